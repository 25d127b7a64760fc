/**
 * The environments are components (OpenStackEnvironment, LocalEnvironment, ExistingEnvironment):
 * everything they make is parented under them, and every child they took over from the stack's
 * root (where 03aff1e and before made it) carries an alias to the root, so a deployed stack keeps
 * every resource (the e2e proves it on a real local stack: tests/e2e/platform.test.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { ExistingEnvironment } from "../../components/existing";
import { LocalEnvironment } from "../../components/local";
import { program } from "../../stacks/program";
import { existingConfig, Recorded, RunResult, runProgram, stackConfig } from "./support/harness";

const ENVIRONMENTS = [
  ["local", "rayswarm:local:LocalEnvironment", () => stackConfig("local")],
  ["dev", "rayswarm:openstack:OpenStackEnvironment", () => stackConfig("dev")],
  ["prod", "rayswarm:openstack:OpenStackEnvironment", () => stackConfig("prod")],
  ["existing", "rayswarm:existing:ExistingEnvironment", () => existingConfig()],
] as const;

const isRoot = (r: Recorded) =>
  r.parent === undefined || (r.parent as unknown as { __pulumiType?: string }).__pulumiType === "pulumi:pulumi:Stack";
/** `{ parent: pulumi.rootStackResource }`: a parent key that holds undefined (no parent: the stack's root). */
const isRootAlias = (a: unknown) =>
  typeof a === "object" && a !== null && Object.prototype.hasOwnProperty.call(a, "parent") && (a as pulumi.Alias).parent === undefined;

describe.each(ENVIRONMENTS)("the %s stack's environment", (stack, type, config) => {
  let run: RunResult;
  let env: Recorded;
  const byResource = new Map<pulumi.Resource, Recorded>();
  const ancestors = (r: Recorded): Recorded[] => {
    const p = r.parent ? byResource.get(r.parent) : undefined;
    return p ? [p, ...ancestors(p)] : [];
  };
  beforeAll(async () => {
    run = await runProgram(stack, config(), program);
    for (const r of run.resources) byResource.set(r.resource, r);
    const envs = run.ofType(type);
    expect(envs).toHaveLength(1);
    env = envs[0];
  });

  test(`is one ${type} at the stack's root, named by its kind, with the name it had until 73e9b66 (the stack's) as an alias`, () => {
    const kind = type.split(":")[1];
    expect(env.name).toBe(kind);
    expect(isRoot(env)).toBe(true);
    expect(env.opts.aliases ?? []).toEqual(kind === stack ? [] : [{ name: stack }]);
  });

  test("everything but the platform is made under it: the stack's root holds the environment and the platform only", () => {
    const roots = run.resources.filter((r) => r.type !== "pulumi:pulumi:Stack" && isRoot(r));
    expect(roots.map((r) => r.type).sort()).toEqual([type, "rayswarm:platform:Platform"].sort());
    const machines = run.resources.filter((r) =>
      ["docker:index/container:Container", "openstack:compute/instance:Instance", "tls:index/privateKey:PrivateKey"].includes(r.type),
    );
    for (const m of machines.filter((r) => !r.name.startsWith("promotion-"))) expect(ancestors(m)).toContain(env);
  });

  test("each child it took over from the stack's root has an alias to the root; their children inherit it (no root alias of their own)", () => {
    const children = run.resources.filter((r) => r.parent === env.resource);
    expect(children.length).toBeGreaterThan(4);
    for (const c of children)
      expect({ child: `${c.type}::${c.name}`, rootAliases: (c.opts.aliases ?? []).filter(isRootAlias).length }).toEqual({
        child: `${c.type}::${c.name}`,
        rootAliases: 1,
      });
    // Deeper resources inherit it from their parent (the engine derives their old URNs); the only
    // aliases they carry are their own renames (the security rules' former names: { name }).
    const grandchildren = run.resources.filter((r) => ancestors(r).slice(1).includes(env));
    for (const g of grandchildren)
      expect({ resource: `${g.type}::${g.name}`, parentAliases: (g.opts.aliases ?? []).filter(isRootAlias) }).toEqual({
        resource: `${g.type}::${g.name}`,
        parentAliases: [],
      });
  });

  test("the Platform's machines are the environment's: every readiness step sits under it", () => {
    const ready = run.ofType("command:remote:Command").filter((c) => c.name.endsWith("-ready"));
    expect(ready.length).toBeGreaterThanOrEqual(5);
    for (const r of ready) expect(ancestors(r)).toContain(env);
  });
});

describe("environment components check their args", () => {
  beforeAll(() =>
    pulumi.runtime.setMocks({ newResource: (a) => ({ id: `${a.name}-id`, state: a.inputs }), call: () => ({}) }, "rayswarm", "t"),
  );

  test("LocalEnvironment without an orchestration machine names the arg", () => {
    expect(
      () =>
        new LocalEnvironment("t", {
          stack: "t",
          machines: [{ name: "t-ray-head", key: "ray-head", role: "ray-head", index: 0, privateAddress: "10.0.0.11" }],
          networkCidr: "10.0.0.0/24",
          gateway: "10.0.0.1",
          nodeImage: "rayswarm/node:dev",
          sshUser: "root",
          servingPort: 8080,
        }),
    ).toThrow(/LocalEnvironment: args.machines needs an orchestration machine/);
  });

  test("ExistingEnvironment without machines names the arg", () => {
    expect(() => new ExistingEnvironment("t", { stack: "t", machines: [], privateKey: pulumi.secret("k") })).toThrow(
      /ExistingEnvironment: args.machines lists no machine/,
    );
  });
});
