/**
 * How the e2e deploys the program: with the real Pulumi engine when it is fully installed
 * (CLI, Node.js language host, command/random/tls plugins), otherwise with the engine-less
 * runner (tools/runner), which executes the program's own resources in its own dependency
 * order. RAYSWARM_E2E_DEPLOYER=pulumi|runner forces one.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { Runner, StepResult } from "../../../tools/runner/runner";
import { program } from "../../../stacks/program";
import { PulumiStack, REPO } from "./pulumi";

export interface UpResult {
  /** Steps (runner) or resources (engine) that changed something. */
  readonly changed: number;
  readonly total: number;
  readonly log: string;
}

export interface Deployer {
  readonly kind: "pulumi" | "runner";
  up(): Promise<UpResult>;
  outputs(): Promise<Record<string, unknown>>;
  destroy(): Promise<void>;
}

/** Why the real engine cannot run the program here, or undefined when it can. */
export function engineMissing(): string | undefined {
  const home = process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
  const bin = (b: string) => fs.existsSync(path.join(home, "bin", b)) || spawnSync("which", [b]).status === 0;
  const missing: string[] = [];
  if (!bin("pulumi")) missing.push("pulumi CLI");
  if (!bin("pulumi-language-nodejs")) missing.push("pulumi-language-nodejs");
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  for (const p of ["command", "random", "tls"]) {
    const v = pkg.dependencies[`@pulumi/${p}`];
    if (!fs.existsSync(path.join(home, "plugins", `resource-${p}-v${v}`))) missing.push(`resource plugin ${p} v${v}`);
  }
  return missing.length ? `not installed: ${missing.join(", ")} (see docs/engine.md)` : undefined;
}

export function makeDeployer(stackName: string, work: string, config: Record<string, unknown>, secretPrivateKey: string): Deployer {
  const forced = process.env.RAYSWARM_E2E_DEPLOYER;
  const useEngine = forced ? forced === "pulumi" : engineMissing() === undefined;
  if (useEngine) {
    const stack = new PulumiStack(stackName, work);
    let initialised = false;
    const init = async () => {
      if (initialised) return;
      fs.writeFileSync(stack.configFile, JSON.stringify({ config }, null, 2));
      await stack.must(["stack", "init", stackName]);
      await stack.must(["config", "set", "--secret", "rayswarm:sshPrivateKey"], secretPrivateKey);
      initialised = true;
    };
    return {
      kind: "pulumi",
      async up() {
        await init();
        const r = await stack.must(["up", "--yes", "--skip-preview", "--json"]);
        const summary = JSON.parse(r.stdout) as { changeSummary?: Record<string, number> };
        const cs = summary.changeSummary ?? {};
        const changed = Object.entries(cs)
          .filter(([k]) => k !== "same")
          .reduce((a, [, n]) => a + n, 0);
        return { changed, total: changed + (cs.same ?? 0), log: stack.log };
      },
      outputs: () => stack.outputs(),
      async destroy() {
        await stack.must(["destroy", "--yes", "--skip-preview"]);
      },
    };
  }
  // The runner takes config in allConfig() form.
  const raw: Record<string, string> = { "rayswarm:sshPrivateKey": secretPrivateKey };
  for (const [k, v] of Object.entries(config)) raw[k] = typeof v === "string" ? v : JSON.stringify(v);
  const log = path.join(work, "runner.log");
  const runner = () =>
    new Runner({
      stack: stackName,
      config: raw,
      stateDir: path.join(work, "runner-state"),
      program,
      log: (l) => fs.appendFileSync(log, `${l}\n`),
    });
  let last: Record<string, unknown> = {};
  return {
    kind: "runner",
    async up() {
      const r = await runner().up();
      last = r.outputs;
      fs.writeFileSync(path.join(work, "runner-steps.json"), JSON.stringify(r.steps, null, 2));
      const changed = r.steps.filter((s: StepResult) => s.changed === true);
      return { changed: changed.length, total: r.steps.length, log };
    },
    async outputs() {
      return last;
    },
    async destroy() {
      await runner().destroy();
    },
  };
}
