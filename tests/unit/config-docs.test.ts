import * as fs from "fs";
import * as path from "path";
import { renderPulumiYaml, renderReadme } from "../../tools/config-docs";
import { KEYS } from "../../stacks/config/keys";

const root = path.resolve(__dirname, "../..");

test("Pulumi.yaml's config schema is generated from stacks/config/keys.ts (run `npm run config-docs`)", () => {
  const current = fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8");
  expect(current).toBe(renderPulumiYaml(current));
  const keys = Object.keys(KEYS) as (keyof typeof KEYS)[];
  const declared = keys.filter((k) => KEYS[k].type !== "object" && KEYS[k].default !== undefined);
  for (const key of declared) expect(current).toContain(`\n  ${key}:\n`);
  // A declared key without a default would be required by the engine for every stack.
  for (const key of keys.filter((k) => !declared.includes(k))) expect(current).not.toContain(`\n  ${key}:\n`);
});

test("the README's config reference lists every key (run `npm run config-docs`)", () => {
  const current = fs.readFileSync(path.join(root, "README.md"), "utf8");
  expect(current).toBe(renderReadme(current));
  for (const key of Object.keys(KEYS)) expect(current).toContain(`| \`rayswarm:${key}\` |`);
});
