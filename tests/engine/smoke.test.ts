/**
 * The engine itself, with no resource plugin: a three-line Node.js program goes through
 * `stack init`, `preview`, `up`, `stack output` and `destroy` on a file backend. This checks
 * the CLI and the Node.js language host that scripts/install-pulumi.sh installed (built from
 * source where the release download is unreachable), independently of the providers.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { engineEnv, pulumi, repoRoot, requireEngine } from "./engine";

requireEngine([]);

describe("the Pulumi engine (Node.js program, file backend)", () => {
  let dir = "";
  let env: NodeJS.ProcessEnv = {};

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-engine-smoke-"));
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), ["name: engine-smoke", "runtime: nodejs", "main: index.js", ""].join("\n"));
    fs.writeFileSync(
      path.join(dir, "index.js"),
      ['const pulumi = require("@pulumi/pulumi");', 'exports.message = pulumi.output("hello").apply((g) => `${g}-rayswarm`);', ""].join(
        "\n",
      ),
    );
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
    env = engineEnv({ PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "smoke" });
  });

  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = pulumi(args, dir, env, 5 * 60 * 1000);
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  it("initialises a stack, previews, updates and reads the output back", () => {
    ok(["stack", "init", "smoke", "--non-interactive"]);
    const preview = JSON.parse(ok(["preview", "--json", "--non-interactive"])) as { steps?: { op: string; urn: string }[] };
    expect(preview.steps?.map((s) => s.op)).toContain("create");
    ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
    expect(ok(["stack", "output", "message"]).trim()).toBe("hello-rayswarm");
    ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
  });
});
