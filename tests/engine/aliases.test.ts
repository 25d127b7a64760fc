/**
 * The alias patterns #15's restructure relies on, under the real engine (a small program, the
 * random provider, a file backend): a component moved from the stack's root under a new one
 * with `aliases: [{ parent: pulumi.rootStackResource }]` (the environments' children), and a
 * child of it renamed with `aliases: [{ name: <old> }]` (the security rules, named by content
 * since): the preview of the new program over the old one's stack creates the new component and
 * nothing else; every old resource is the same. Then short names (components/core/names.ts): the
 * same resources renamed again, each with its two former names as aliases (the one under the
 * environment and the one at the root), over a stack of either generation. The e2e proves these
 * on a real local stack, the OpenStack test on real OpenStack objects; this proves the patterns
 * alone, in seconds.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { engineEnv, pulumi, repoRoot, requireEngine } from "./engine";

requireEngine(["random"]);

const PROGRAM = `const pulumi = require("@pulumi/pulumi");
const random = require("@pulumi/random");
// 1: as 03aff1e (at the root); 2: as 73e9b66 (under an environment named by the stack, rules
// named by content); 3: short names (components/core/names.ts), with the aliases the program gives.
const v = Number(process.env.RAYSWARM_ALIAS_V ?? "1");
const stack = "dev";
const root = pulumi.rootStackResource;
const str = (name, opts) => new random.RandomString(name, { length: 4, special: false }, opts);
class Groups extends pulumi.ComponentResource {
  constructor(n, opts = {}) {
    super("rayswarm:openstack:SecurityGroups", n, {}, opts);
    if (v === 3)
      str("internal-tcp-22-from-bastion", {
        parent: this,
        aliases: [{ name: stack + "-internal-tcp-22-from-bastion" }, { name: stack + "-internal-ssh-from-the-bastion-tcp" }],
      });
    else if (v === 2) str(n + "-internal-tcp-22-from-bastion", { parent: this, aliases: [{ name: n + "-internal-ssh-from-the-bastion-tcp" }] });
    else str(n + "-internal-ssh-from-the-bastion-tcp", { parent: this });
    this.registerOutputs({});
  }
}
class Env extends pulumi.ComponentResource {
  constructor(n, opts = {}) {
    super("rayswarm:openstack:OpenStackEnvironment", n, {}, opts);
    if (v === 3) {
      new Groups("security", { parent: this, aliases: [{ name: stack }, { name: stack, parent: root }] });
      str("ssh", { parent: this, aliases: [{ name: stack + "-ssh" }, { name: stack + "-ssh", parent: root }] });
    } else {
      new Groups(n, { parent: this, aliases: [{ parent: root }] });
      str(n + "-ssh", { parent: this, aliases: [{ parent: root }] });
    }
    this.registerOutputs({});
  }
}
if (v === 3) new Env("openstack", { aliases: [{ name: stack }] });
else if (v === 2) new Env(stack);
else {
  new Groups(stack);
  str(stack + "-ssh");
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

  const stepsOf = (preview: string) =>
    ((JSON.parse(preview) as { steps?: { op: string; urn: string }[] }).steps ?? [])
      .map((s) => `${s.op} ${s.urn.split("::").slice(2).join("::")}`)
      .sort();
  /** Deploys program version `from` on a new stack, previews version `to` over it, destroys it. */
  const upgrade = (stackName: string, from: number, to: number) => {
    ok(["stack", "init", stackName, "--non-interactive"]);
    try {
      ok(["up", "--yes", "--non-interactive", "--skip-preview"], { RAYSWARM_ALIAS_V: String(from) });
      return stepsOf(ok(["preview", "--json", "--show-sames", "--non-interactive"], { RAYSWARM_ALIAS_V: String(to) }));
    } finally {
      ok(["destroy", "--yes", "--non-interactive", "--skip-preview"], { RAYSWARM_ALIAS_V: String(from) });
      ok(["stack", "rm", "--yes", "--non-interactive"]);
    }
  };

  it("re-parented under a new component and renamed within it: the preview creates the new component only", () => {
    expect(upgrade("from-root", 1, 2)).toEqual(
      [
        "create rayswarm:openstack:OpenStackEnvironment::dev",
        "same pulumi:pulumi:Stack::engine-aliases-from-root",
        "same rayswarm:openstack:OpenStackEnvironment$random:index/randomString:RandomString::dev-ssh",
        "same rayswarm:openstack:OpenStackEnvironment$rayswarm:openstack:SecurityGroups::dev",
        "same rayswarm:openstack:OpenStackEnvironment$rayswarm:openstack:SecurityGroups$random:index/randomString:RandomString::dev-internal-tcp-22-from-bastion",
      ].sort(),
    );
  });

  const SHORT = [
    "same rayswarm:openstack:OpenStackEnvironment$random:index/randomString:RandomString::ssh",
    "same rayswarm:openstack:OpenStackEnvironment$rayswarm:openstack:SecurityGroups::security",
    "same rayswarm:openstack:OpenStackEnvironment$rayswarm:openstack:SecurityGroups$random:index/randomString:RandomString::internal-tcp-22-from-bastion",
  ];

  it("short names over a stack deployed at 73e9b66 (named by the stack): every resource is the same, the environment renamed", () => {
    expect(upgrade("from-stack-names", 2, 3)).toEqual(
      [
        "same pulumi:pulumi:Stack::engine-aliases-from-stack-names",
        "same rayswarm:openstack:OpenStackEnvironment::openstack",
        ...SHORT,
      ].sort(),
    );
  });

  it("short names over a stack deployed at 03aff1e (at the root, rules named by description): only the environment is created", () => {
    expect(upgrade("from-root-to-short", 1, 3)).toEqual(
      [
        "create rayswarm:openstack:OpenStackEnvironment::openstack",
        "same pulumi:pulumi:Stack::engine-aliases-from-root-to-short",
        ...SHORT,
      ].sort(),
    );
  });
});
