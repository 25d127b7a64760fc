/**
 * The program under the real engine (CLI + Node.js language host, no resource plugin needed):
 * every invalid config value fails `pulumi preview` before any resource is registered, with
 * the program's own message naming the key, the bad value and what is allowed.
 */
import * as fs from "fs";
import { copyProject, engineEnv, pulumi, requireEngine } from "./engine";

requireEngine([]);

describe("pulumi preview of the TypeScript program under the real engine", () => {
  let dir = "";
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = copyProject("rayswarm-engine-program-");
    fs.mkdirSync(`${dir}/.pulumi-state`);
    env = engineEnv({ PULUMI_BACKEND_URL: `file://${dir}/.pulumi-state`, PULUMI_CONFIG_PASSPHRASE: "rayswarm-engine-test" });
    const init = pulumi(["stack", "init", "bad", "--non-interactive"], dir, env);
    expect({ status: init.status, stderr: init.stderr }).toMatchObject({ status: 0 });
  });
  afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  test("bad values and a typo fail the preview with one clear line each, before any resource", () => {
    for (const [k, v] of [
      ["swarmManagers", "2"],
      ["rayWorker", "3"],
      ["servingPort", "5672"],
    ]) {
      const set = pulumi(["config", "set", k, v, "--stack", "bad", "--non-interactive"], dir, env);
      expect(set.status).toBe(0);
    }
    const preview = pulumi(["preview", "--stack", "bad", "--non-interactive", "--json"], dir, env);
    expect(preview.status).not.toBe(0);
    const parsed = JSON.parse(preview.stdout) as { steps?: { urn: string }[]; diagnostics?: { message: string; severity: string }[] };
    const out = (parsed.diagnostics ?? []).map((d) => d.message).join("\n");
    expect(out).toContain("rayswarm:swarmManagers must be an odd number >= 1 (got 2): an even manager count cannot keep Raft quorum");
    expect(out).toContain("rayswarm:rayWorker is not a known key (did you mean rayswarm:rayWorkers?)");
    expect(out).toContain("rayswarm:servingPort must be a port not used inside the cluster (got 5672): 5672 is RabbitMQ");
    // nothing but the stack itself was planned
    expect((parsed.steps ?? []).filter((s) => !s.urn.includes("pulumi:pulumi:Stack"))).toEqual([]);
  });
});
