import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { cloudConfig, renderCloudConfig, ROLE_PACKAGES } from "../../components/openstack/cloudinit";
import { ROLES } from "../../stacks/schema";
import { program } from "../../stacks/program";
import { runProgram, stackConfig } from "./support/harness";

/** Runs Debian's `cloud-init schema` on a document; throws with its output when invalid. */
function cloudInitSchema(doc: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cloudinit-"));
  const file = path.join(dir, "user-data");
  fs.writeFileSync(file, doc);
  try {
    return execFileSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: string };
    if (err.code === "ENOENT") throw new Error("cloud-init is not installed: apt-get install -y cloud-init (.ci/run does it)");
    throw new Error(`cloud-init schema rejected the document:\n${err.stdout}\n${err.stderr}\n---\n${doc}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("cloud-init user data", () => {
  test.each(ROLES)("the %s document passes `cloud-init schema`", (role) => {
    const doc = renderCloudConfig(cloudConfig(`dev-${role}`, [role]));
    expect(doc.startsWith("#cloud-config\n")).toBe(true);
    expect(cloudInitSchema(doc)).toMatch(/Valid cloud-config/);
  });

  test("every user-data document the dev and prod stacks send passes `cloud-init schema` and installs its role's packages", async () => {
    for (const stack of ["dev", "prod"]) {
      const run = await runProgram(stack, stackConfig(stack), program);
      const instances = run.ofType("openstack:compute/instance:Instance");
      expect(instances.length).toBeGreaterThan(4);
      for (const i of instances) {
        const userData = String(i.inputs?.userData);
        expect(cloudInitSchema(userData)).toMatch(/Valid cloud-config/);
        const parsed = yaml.load(userData) as { hostname: string; packages: string[]; write_files: { content: string }[] };
        const role = (i.inputs?.metadata as Record<string, string>)["rayswarm-roles"] as keyof typeof ROLE_PACKAGES;
        expect(parsed.hostname).toBe(i.name.replace(/-vm$/, "") === i.name ? i.name : i.inputs?.name);
        for (const p of ROLE_PACKAGES[role]) expect(parsed.packages).toContain(p);
        for (const p of ["git", "python3-venv"]) expect(parsed.packages).toContain(p);
        expect(parsed.write_files[0].content).toBe(`${role}\n`);
      }
    }
  });

  test("the schema check is real: an invalid document is rejected", () => {
    expect(() => cloudInitSchema("#cloud-config\npackage_update: maybe\nruncmd: 5\n")).toThrow(/rejected/);
  });

  test("Swarm machines get Docker, Ray machines do not need it, and no document carries a secret", () => {
    const mgr = cloudConfig("m", ["swarm-manager"]);
    expect(mgr.packages).toContain("docker.io");
    expect(mgr.runcmd).toContainEqual(["systemctl", "enable", "--now", "docker"]);
    expect(cloudConfig("h", ["ray-head"]).packages).not.toContain("docker.io");
    for (const role of ROLES) expect(renderCloudConfig(cloudConfig("x", [role]))).not.toMatch(/PRIVATE KEY|password|SWMTKN/i);
  });
});
