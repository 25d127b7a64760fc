/**
 * The lint rules that keep imports pointing one way (eslint.config.js): components/ cannot import
 * stacks/, tools/ or tests/; components/core imports nothing outside itself; tools/ cannot import tests/.
 */
import * as path from "path";
import { ESLint } from "eslint";

const ROOT = path.resolve(__dirname, "../..");
// The project's own flat config, given as an object: ESLint loads config files with a dynamic
// import, which jest's VM does not offer.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const eslint = new ESLint({ cwd: ROOT, overrideConfigFile: true, overrideConfig: require("../../eslint.config.js") });

async function restricted(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(ROOT, file) });
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports").map((m) => m.message);
}

const importing = (spec: string) => `import * as m from "${spec}";\nexport const x = m;\n`;

test.each([
  ["components/platform.ts", "../stacks/config"],
  ["components/ray/cluster.ts", "../../stacks/schema"],
  ["components/swarm/cluster.ts", "../../tools/mock-run"],
  ["components/openstack/machine.ts", "../../tests/unit/support/harness"],
  ["components/core/ports.ts", "../host"],
  ["tools/critical-path.ts", "../tests/unit/support/harness"],
])("%s may not import %s", async (file, spec) => {
  expect(await restricted(file, importing(spec))).toHaveLength(1);
});

test("a re-export counts as an import", async () => {
  expect(await restricted("components/host.ts", 'export { ROLES } from "../stacks/schema";\n')).toHaveLength(1);
});

test.each([
  ["components/platform.ts", "./core"],
  ["components/platform.ts", "./ray"],
  ["components/ray/cluster.ts", "../core/ports"],
  ["components/core/index.ts", "./roles"],
  ["stacks/program.ts", "../components/platform"],
  ["tools/critical-path.ts", "../stacks/program"],
  ["tests/unit/x.test.ts", "../../tools/mock-run"],
])("%s may import %s", async (file, spec) => {
  expect(await restricted(file, importing(spec))).toEqual([]);
});
