// rayswarm:deploy: infrastructure creates the OpenStack machines and nothing that logs in to them.
import { program, PLATFORM_NOT_DEPLOYED } from "../../stacks/program";
import { parsePlatformConfig, ConfigError } from "../../stacks/config";
import { RunResult, localConfig, runProgram, stackConfig, unwrap } from "./support/harness";

const OPENSTACK_TYPES = [
  "openstack:networking/network:Network",
  "openstack:networking/subnet:Subnet",
  "openstack:networking/router:Router",
  "openstack:networking/routerInterface:RouterInterface",
  "openstack:networking/secGroup:SecGroup",
  "openstack:networking/secGroupRule:SecGroupRule",
  "openstack:networking/port:Port",
  "openstack:networking/floatingIp:FloatingIp",
  "openstack:networking/floatingIpAssociate:FloatingIpAssociate",
  "openstack:compute/keypair:Keypair",
  "openstack:compute/serverGroup:ServerGroup",
  "openstack:compute/instance:Instance",
];

const names = (run: RunResult, type: string) =>
  run
    .ofType(type)
    .map((r) => r.name)
    .sort();

describe.each(["dev", "prod"])("rayswarm:deploy infrastructure (%s)", (stack) => {
  let platform: RunResult;
  let infra: RunResult;
  beforeAll(async () => {
    platform = await runProgram(stack, stackConfig(stack), program);
    infra = await runProgram(stack, { ...stackConfig(stack), "rayswarm:deploy": "infrastructure" }, program);
  });

  test("no remote command, no platform component", () => {
    expect(infra.resources.filter((r) => r.type.startsWith("command:"))).toEqual([]);
    expect(infra.resources.filter((r) => r.type.startsWith("rayswarm:") && !r.type.startsWith("rayswarm:openstack:"))).toEqual([]);
    expect(platform.ofType("command:remote:Command").length).toBeGreaterThan(10);
  });

  test("every OpenStack resource of the platform deploy is there, with the same inputs", () => {
    for (const t of OPENSTACK_TYPES) {
      expect(names(infra, t).length).toBeGreaterThan(0);
      expect({ type: t, names: names(infra, t) }).toEqual({ type: t, names: names(platform, t) });
    }
    // same inputs: switching mode later (infrastructure -> platform) changes no machine
    for (const t of OPENSTACK_TYPES)
      for (const r of infra.ofType(t))
        expect({ name: r.name, inputs: r.inputs }).toEqual({
          name: r.name,
          inputs: platform.ofType(t).find((x) => x.name === r.name)?.inputs,
        });
  });

  test("outputs: the machines (roles and addresses) and the bastion; the platform's say it is not deployed", async () => {
    const machines = (
      await unwrap<Record<string, { roles: string[]; privateAddress: string; publicAddress: string }>>(infra.outputs.machines as never)
    ).value!;
    // keyed by machine name; the Machine components are named by key (`<stack>-<key>` is the machine name)
    expect(Object.keys(machines).sort()).toEqual(names(infra, "rayswarm:openstack:Machine").map((k) => `${stack}-${k}`));
    expect(machines[`${stack}-orchestration`]).toEqual({
      roles: ["orchestration"],
      privateAddress: expect.stringMatching(/^10\.4[23]\.0\.10$/),
      publicAddress: expect.stringMatching(/^198\.51\.100\./),
    });
    expect(machines[`${stack}-ray-head`]).toEqual({
      roles: ["ray-head"],
      privateAddress: expect.stringMatching(/^10\.4[23]\.0\.11$/),
      publicAddress: "",
    });
    expect(machines[`${stack}-swarm-manager-0`].publicAddress).toMatch(/^198\.51\.100\./);
    const bastion = (await unwrap<string>(infra.outputs.bastionAddress as never)).value;
    expect(bastion).toBe(machines[`${stack}-orchestration`].publicAddress);
    expect(infra.outputs.deploy).toBe("infrastructure");
    for (const k of [
      "webUrl",
      "swarmNodes",
      "modelVersion",
      "promoteCommand",
      "rollbackCommand",
      "trainCommand",
      "modelsCommand",
      "rayDashboardTunnel",
      "jupyterTunnel",
    ])
      expect({ output: k, value: infra.outputs[k] }).toEqual({ output: k, value: PLATFORM_NOT_DEPLOYED });
    expect((await unwrap(infra.outputs.sshPrivateKey as never)).secret).toBe(true);
    expect(Object.keys(infra.outputs).sort()).toEqual(Object.keys(platform.outputs).sort());
  });
});

test("rayswarm:deploy is platform by default and validated like the other enum keys", () => {
  const cfg = stackConfig("dev");
  expect(parsePlatformConfig(cfg, "dev").deploy).toBe("platform");
  expect(parsePlatformConfig({ ...cfg, "rayswarm:deploy": "infrastructure" }, "dev").deploy).toBe("infrastructure");
  expect(() => parsePlatformConfig({ ...cfg, "rayswarm:deploy": "machines" }, "dev")).toThrow(ConfigError);
  expect(() => parsePlatformConfig({ ...cfg, "rayswarm:deploy": "machines" }, "dev")).toThrow(
    /rayswarm:deploy must be one of platform, infrastructure \(got "machines"\)/,
  );
  // only the openstack environment has the mode (the default passes everywhere)
  const local = localConfig();
  expect(() => parsePlatformConfig({ ...local, "rayswarm:deploy": "infrastructure" }, "local")).toThrow(/rayswarm:deploy is not used when/);
  expect(parsePlatformConfig({ ...local, "rayswarm:deploy": "platform" }, "local").deploy).toBe("platform");
});
