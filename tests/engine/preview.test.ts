/**
 * `pulumi preview` of the dev and prod stacks under the real engine, exactly as the pull-request
 * workflow runs them: a file backend in a temp dir and NO OpenStack credentials (the program is
 * preview-safe without them: see stacks/openstack.ts). A stack passes when its preview succeeds
 * and plans, per resource type, exactly what the program registers under mocks (tools/mock-run)
 * and what the committed expectation says (tests/unit/data/resource-graph/counts.json, the counts
 * of the committed resource graphs: tools/resource-graph.ts).
 */
import * as fs from "fs";
import * as path from "path";
import { program } from "../../stacks/program";
import { runProgram, stackConfig, tagOfTarballName, writeImageTarball } from "../../tools/mock-run";
import { COUNTS_FILE } from "../../tools/resource-graph";
import { copyProject, countPlannedTypes, engineEnv, pulumi, requireEngine } from "./engine";

/** The plugins an OpenStack stack loads (docker is used by the local environment only). */
requireEngine(["command", "openstack", "random", "tls"]);

/** Per-type counts of the mock run: the program's own resources, without the stack. */
async function mockCounts(stack: string, config: Record<string, string>): Promise<Record<string, number>> {
  const run = await runProgram(stack, config, program);
  const counts: Record<string, number> = {};
  for (const r of run.resources) if (r.type !== "pulumi:pulumi:Stack") counts[r.type] = (counts[r.type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

describe.each(["dev", "prod"] as const)("pulumi preview --stack %s without OpenStack credentials", (stack) => {
  let dir = "";
  afterAll(() => {
    if (dir && !process.env.RAYSWARM_KEEP_PREVIEW_DIR) fs.rmSync(dir, { recursive: true, force: true });
  });

  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = copyProject(`rayswarm-preview-${stack}-`);
    env = engineEnv({ PULUMI_BACKEND_URL: `file://${dir}/.pulumi-state`, PULUMI_CONFIG_PASSPHRASE: "rayswarm-preview-test" });
    for (const k of Object.keys(env)) if (k.startsWith("OS_")) delete env[k];
    fs.mkdirSync(`${dir}/.pulumi-state`);
    const init = pulumi(["stack", "init", stack, "--non-interactive"], dir, env);
    expect({ step: "stack init", status: init.status, stderr: init.stderr }).toMatchObject({ status: 0 });
  });

  it("without the serving image's tarball fails at once, naming the file and the commands that make it", () => {
    const preview = pulumi(["preview", "--stack", stack, "--json", "--non-interactive"], dir, env);
    expect(preview.status).not.toBe(0);
    const parsed = JSON.parse(preview.stdout) as { diagnostics?: { message: string }[] };
    expect((parsed.diagnostics ?? []).map((d) => d.message).join("\n")).toContain(
      "rayswarm:imageTarballs: .local/images/rayswarm_serving_dev.tar does not exist: make it with bash scripts/images/build-images.sh serving && bash scripts/images/save-images.sh .local/images rayswarm/serving:dev",
    );
  });

  it("succeeds and plans what the mock run registers, per type", async () => {
    // The tarballs the stack names (scripts/images/save-images.sh makes them): docker save-shaped stand-ins.
    for (const t of JSON.parse(stackConfig(stack)["rayswarm:imageTarballs"] ?? "[]") as string[]) {
      const rel = path.join(".local/images", path.basename(t));
      fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
      writeImageTarball(path.join(dir, rel), tagOfTarballName(t));
    }

    const preview = pulumi(["preview", "--stack", stack, "--json", "--non-interactive"], dir, env);
    let parsed: { steps?: { op: string; urn: string }[]; diagnostics?: { message: string; severity: string }[] } = {};
    try {
      parsed = JSON.parse(preview.stdout);
    } catch {
      // not JSON: reported below with the raw output
    }
    const errors = (parsed.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message.trim());
    if (preview.status !== 0) {
      throw new Error(
        `pulumi preview --stack ${stack} failed (exit ${preview.status}):\n${errors.join("\n") || preview.stdout.slice(-4000)}\n${preview.stderr.slice(-4000)}`,
      );
    }
    const messages = (parsed.diagnostics ?? []).map((d) => d.message).join("\n");
    expect(messages).toContain('no OpenStack credentials: the id of external network "public" is unknown in this preview');
    const planned = countPlannedTypes(parsed);
    const expected = await mockCounts(stack, stackConfig(stack));
    expect(planned).toEqual(expected);
    const committed = (JSON.parse(fs.readFileSync(COUNTS_FILE, "utf8")) as Record<string, Record<string, number>>)[stack];
    expect(planned).toEqual(committed);
    expect(planned["openstack:compute/instance:Instance"]).toBe(stack === "dev" ? 5 : 11);
  });
});
