/**
 * The alias patterns #15's restructure relies on, under the real engine (a small program, the
 * random provider, a file backend): a component moved from the stack's root under a new one
 * with `aliases: [{ parent: pulumi.rootStackResource }]` (the environments' children), and a
 * child of it renamed with `aliases: [{ name: <old> }]` (the security rules, named by content
 * since): the preview of the new program over the old one's stack creates the new component and
 * nothing else; every old resource is the same. The e2e proves the first pattern on a real local
 * stack; OpenStack's rules have no such stack here, so this proves the two together.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { engineEnv, pulumi, repoRoot, requireEngine } from "./engine";

requireEngine(["random"]);

const PROGRAM = `const pulumi = require("@pulumi/pulumi");
const random = require("@pulumi/random");
const v2 = process.env.RAYSWARM_ALIAS_V2 === "1";
const str = (name, opts) => new random.RandomString(name, { length: 4, special: false }, opts);
class Groups extends pulumi.ComponentResource {
  constructor(n, opts = {}) {
    super("rayswarm:openstack:SecurityGroups", n, {}, opts);
    if (v2) str(n + "-internal-tcp-22-from-bastion", { parent: this, aliases: [{ name: n + "-internal-ssh-from-the-bastion-tcp" }] });
    else str(n + "-internal-ssh-from-the-bastion-tcp", { parent: this });
    this.registerOutputs({});
  }
}
class Env extends pulumi.ComponentResource {
  constructor(n) {
    super("rayswarm:openstack:OpenStackEnvironment", n, {}, {});
    new Groups(n, { parent: this, aliases: [{ parent: pulumi.rootStackResource }] });
    str(n + "-ssh", { parent: this, aliases: [{ parent: pulumi.rootStackResource }] });
    this.registerOutputs({});
  }
}
if (v2) new Env("dev");
else {
  new Groups("dev");
  str("dev-ssh");
}
`;

describe("aliases under the real engine", () => {
  let dir = "";
  let env: NodeJS.ProcessEnv = {};
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-engine-aliases-"));
    fs.mkdirSync(path.join(dir, "state"));
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), ["name: engine-aliases", "runtime: nodejs", "main: index.js", ""].join("\n"));
    fs.writeFileSync(path.join(dir, "index.js"), PROGRAM);
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
    env = engineEnv({ PULUMI_BACKEND_URL: `file://${dir}/state`, PULUMI_CONFIG_PASSPHRASE: "aliases" });
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const ok = (args: string[], extra: NodeJS.ProcessEnv = {}) => {
    const r = pulumi(args, dir, { ...env, ...extra }, 5 * 60 * 1000);
    if (r.status !== 0) throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  it("re-parented under a new component and renamed within it: the preview creates the new component only", () => {
    ok(["stack", "init", "aliases", "--non-interactive"]);
    ok(["up", "--yes", "--non-interactive", "--skip-preview"]);
    const preview = JSON.parse(ok(["preview", "--json", "--show-sames", "--non-interactive"], { RAYSWARM_ALIAS_V2: "1" })) as {
      steps?: { op: string; urn: string }[];
    };
    const steps = (preview.steps ?? []).map((s) => `${s.op} ${s.urn.split("::").slice(2).join("::")}`).sort();
    expect(steps).toEqual(
      [
        "create rayswarm:openstack:OpenStackEnvironment::dev",
        "same pulumi:pulumi:Stack::engine-aliases-aliases",
        "same rayswarm:openstack:OpenStackEnvironment$random:index/randomString:RandomString::dev-ssh",
        "same rayswarm:openstack:OpenStackEnvironment$rayswarm:openstack:SecurityGroups::dev",
        "same rayswarm:openstack:OpenStackEnvironment$rayswarm:openstack:SecurityGroups$random:index/randomString:RandomString::dev-internal-tcp-22-from-bastion",
      ].sort(),
    );
    ok(["destroy", "--yes", "--non-interactive", "--skip-preview"]);
  });
});
