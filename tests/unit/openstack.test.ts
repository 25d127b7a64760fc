import { program } from "../../stacks/program";
import { RunResult, runProgram, stackConfig, unwrap, ADMIN_CIDR } from "./support/harness";

const T = {
  instance: "openstack:compute/instance:Instance",
  port: "openstack:networking/port:Port",
  rule: "openstack:networking/secGroupRule:SecGroupRule",
  group: "openstack:networking/secGroup:SecGroup",
  fip: "openstack:networking/floatingIp:FloatingIp",
  serverGroup: "openstack:compute/serverGroup:ServerGroup",
  keypair: "openstack:compute/keypair:Keypair",
  ready: "command:remote:Command",
};

function rolesOf(run: RunResult): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const i of run.ofType(T.instance)) {
    const role = String((i.inputs?.metadata as Record<string, string>)["rayswarm-roles"]);
    counts[role] = (counts[role] ?? 0) + 1;
  }
  return counts;
}

describe.each([
  ["dev", { orchestration: 1, "ray-head": 1, "ray-worker": 1, "swarm-manager": 1, "swarm-worker": 1 }],
  ["prod", { orchestration: 1, "ray-head": 1, "ray-worker": 3, "swarm-manager": 3, "swarm-worker": 3 }],
])("the %s stack on OpenStack", (stack, expectedRoles) => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), program);
  });

  test("creates one VM per machine of each role, as the stack config asks", () => {
    expect(rolesOf(run)).toEqual(expectedRoles);
    const machines = Object.values(expectedRoles).reduce((a, b) => a + b, 0);
    expect(run.ofType(T.port)).toHaveLength(machines);
    // public addresses: the bastion (SSH) and the Swarm managers (the prediction API) only
    expect(run.ofType(T.fip)).toHaveLength(1 + expectedRoles["swarm-manager"]);
    expect(
      run
        .ofType(T.fip)
        .map((f) => f.name)
        .sort(),
    ).toEqual(
      [
        `${stack}-orchestration-fip`,
        ...Array.from({ length: expectedRoles["swarm-manager"] }, (_, i) => `${stack}-swarm-manager-${i}-fip`),
      ].sort(),
    );
    expect(run.ofType(T.keypair)).toHaveLength(1);
    expect(run.ofType(T.group)).toHaveLength(5);
    expect(run.ofType("openstack:networking/network:Network")).toHaveLength(1);
    expect(run.ofType("openstack:networking/subnet:Subnet")).toHaveLength(1);
    expect(run.ofType("openstack:networking/router:Router")).toHaveLength(1);
    // every machine has a readiness step
    expect(run.ofType(T.ready).filter((c) => c.name.endsWith("-ready"))).toHaveLength(machines);
  });

  test("flavors follow the role", () => {
    const cfg = stackConfig(stack);
    const flavorOf = (role: string) =>
      run
        .ofType(T.instance)
        .filter((i) => (i.inputs?.metadata as Record<string, string>)["rayswarm-roles"] === role)
        .map((i) => i.inputs?.flavorName);
    const expectFlavor = (role: string, key: string, dflt: string) =>
      expect(new Set(flavorOf(role))).toEqual(new Set([cfg[`rayswarm:${key}`] ?? dflt]));
    expectFlavor("ray-worker", "rayWorkerFlavor", "m1.large");
    expectFlavor("swarm-manager", "swarmManagerFlavor", "m1.medium");
    expectFlavor("orchestration", "bastionFlavor", "m1.small");
  });

  test("security: no Ray/Redis/RabbitMQ/Swarm/Docker API port is open to the world; SSH only as designed", async () => {
    const groupName = new Map(run.ofType(T.group).map((g) => [`${g.name}-id`, g.name.replace(`${stack}-`, "")]));
    const rules: Record<string, unknown>[] = run
      .ofType(T.rule)
      .map((r) => ({ ...(r.inputs as Record<string, unknown>), group: groupName.get(String(r.inputs?.securityGroupId)) }));
    expect(rules.length).toBeGreaterThan(10);
    const world = (r: Record<string, unknown>) => r.remoteIpPrefix === "0.0.0.0/0" || r.remoteIpPrefix === "::/0";
    const covers = (r: Record<string, unknown>, port: number) =>
      r.portRangeMin === undefined || (Number(r.portRangeMin) <= port && port <= Number(r.portRangeMax));
    const internalPorts = [6379, 8265, 10001, 6380, 6381, 10002, 10999, 52365, 2377, 7946, 4789, 5672, 2375, 2376, 22];
    for (const r of rules.filter(world)) {
      for (const p of internalPorts) expect({ rule: r, port: p, open: covers(r, p) }).toEqual({ rule: r, port: p, open: false });
      // The only world-open rules are the serving port on the serving group.
      expect(r.group).toBe("serving");
      expect(r.portRangeMin).toBe(8080);
      expect(r.portRangeMax).toBe(8080);
    }
    const ssh = rules.filter((r) => r.protocol === "tcp" && covers(r, 22));
    // SSH from the admin CIDR: only on the bastion group; everything else: from the bastion group only.
    for (const r of ssh) {
      if (r.remoteIpPrefix !== undefined) {
        expect(r.group).toBe("bastion");
        expect(r.remoteIpPrefix).toBe(stackConfig(stack)["rayswarm:adminCidr"]);
      } else {
        expect(r.group).toBe("internal");
        expect(groupName.get(String(r.remoteGroupId))).toBe("bastion");
      }
    }
    // Monitoring: the node exporter and the relay's /federate, from the bastion group only.
    const fromBastion = rules.filter((r) => r.remoteGroupId !== undefined && !ssh.includes(r));
    expect(fromBastion.map((r) => [r.group, r.protocol, r.portRangeMin, r.portRangeMax, groupName.get(String(r.remoteGroupId))])).toEqual([
      ["internal", "tcp", 9100, 9100, "bastion"],
      ["swarm", "tcp", 9091, 9091, "bastion"],
    ]);
    // Every other rule that is neither SSH nor serving nor world is confined to the cluster subnet.
    const cidr = stackConfig(stack)["rayswarm:networkCidr"];
    for (const r of rules.filter((x) => !world(x) && !ssh.includes(x) && !fromBastion.includes(x))) expect(r.remoteIpPrefix).toBe(cidr);
  });

  test("the bastion alone is in the bastion group; production machines alone expose the serving port", () => {
    const groupName = new Map(run.ofType(T.group).map((g) => [`${g.name}-id`, g.name.replace(`${stack}-`, "")]));
    for (const p of run.ofType(T.port)) {
      const groups = (p.inputs?.securityGroupIds as string[]).map((id) => groupName.get(id));
      const isBastion = p.name === `${stack}-orchestration-port`;
      expect(groups.includes("bastion")).toBe(isBastion);
      expect(groups.includes("internal")).toBe(!isBastion);
      expect(groups.includes("serving")).toBe(/swarm-(manager|worker)/.test(p.name));
    }
  });

  test("every private key is a secret, in outputs and in every connection", async () => {
    const key = await unwrap(run.outputs.sshPrivateKey as never);
    expect(key.secret).toBe(true);
    expect(String(key.value)).toContain("PRIVATE KEY");
    for (const c of run.ofType(T.ready)) {
      const conn = await unwrap(c.props.connection as never);
      expect(conn.secret).toBe(true);
    }
  });

  test("non-bastion machines are reached through the bastion; the bastion directly", async () => {
    // Steps on the orchestration machine itself: its readiness, and the monitoring's there
    // (Prometheus, its config and the machines' target files, its own exporter).
    const onBastion = new RegExp(
      `^${stack}-(orchestration-ready|monitoring-(config|prometheus|target-.+|(scripts|stop|node-exporter)-${stack}-orchestration))$`,
    );
    for (const c of run.ofType(T.ready)) {
      const conn = (await unwrap<Record<string, unknown>>(c.props.connection as never)).value!;
      if (onBastion.test(c.name)) {
        expect(conn.proxy).toBeUndefined();
        expect(conn.host).toMatch(/^198\.51\.100\./);
      } else {
        expect((conn.proxy as Record<string, unknown>).host).toMatch(/^198\.51\.100\./);
        expect(conn.host).toMatch(/^10\.4[23]\.0\.\d+$/);
      }
    }
  });

  test("managers and workers sit in anti-affinity server groups", () => {
    const groups = run.ofType(T.serverGroup);
    expect(groups.map((g) => g.name).sort()).toEqual([`${stack}-ray-workers`, `${stack}-swarm-managers`, `${stack}-swarm-workers`]);
    for (const g of groups) expect(g.inputs?.policies).toEqual(["anti-affinity"]);
    const managers = run.ofType(T.instance).filter((i) => i.name.includes("swarm-manager"));
    for (const m of managers) expect(m.inputs?.schedulerHints).toEqual([{ group: `${stack}-swarm-managers-id` }]);
  });

  test("siblings are independent: no machine of a role waits for another of the same role", () => {
    const roleMachines = (role: string) =>
      run.resources.filter((r) => r.type === "rayswarm:openstack:Machine" && new RegExp(`-${role}-\\d+$`).test(r.name));
    for (const role of ["ray-worker", "swarm-manager", "swarm-worker"]) {
      const siblings = roleMachines(role);
      expect(siblings.length).toBe(expectedRoles[role as keyof typeof expectedRoles]);
      for (const a of siblings) {
        const readyA = run.byName(`${a.name}-ready`);
        const deps = run.dependsOnTransitively(readyA);
        for (const b of siblings.filter((x) => x !== a)) {
          const bChildren = run.resources.filter((r) => r.parent === b.resource);
          for (const child of bChildren)
            expect({ from: readyA.name, to: child.name, depends: deps.has(child) }).toEqual({
              from: readyA.name,
              to: child.name,
              depends: false,
            });
        }
      }
    }
  });

  test("every machine's readiness waits for the bastion's", () => {
    const bastionReady = run.byName(`${stack}-orchestration-ready`);
    for (const c of run.ofType(T.ready).filter((x) => x !== bastionReady)) {
      expect(run.dependsOnTransitively(c).has(bastionReady)).toBe(true);
    }
  });

  test("outputs: ssh command per machine through the bastion, addresses per role, dashboard tunnel", async () => {
    const ssh = (await unwrap<Record<string, string>>(run.outputs.sshCommands as never)).value!;
    expect(Object.keys(ssh)).toHaveLength(Object.values(expectedRoles).reduce((a, b) => a + b, 0));
    expect(ssh[`${stack}-orchestration`]).toMatch(/^ssh debian@198\.51\.100\.\d+$/);
    expect(ssh[`${stack}-ray-head`]).toMatch(/^ssh -J debian@198\.51\.100\.\d+ debian@10\.4[23]\.0\.11$/);
    const addrs = (await unwrap<Record<string, string[]>>(run.outputs.privateAddresses as never)).value!;
    expect(addrs["swarm-manager"]).toHaveLength(expectedRoles["swarm-manager"]);
    expect(new Set(Object.values(addrs).flat()).size).toBe(Object.values(expectedRoles).reduce((a, b) => a + b, 0));
    const tunnel = (await unwrap<string>(run.outputs.rayDashboardTunnel as never)).value!;
    expect(tunnel).toMatch(/^ssh -N -L 8265:10\.4[23]\.0\.11:8265 debian@198\.51\.100\.\d+/);
  });
});

test("a configured public key is used instead of a generated one (and no key output is made)", async () => {
  const key = ["-----BEGIN", "OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"].join(" ");
  const run = await runProgram(
    "dev",
    { ...stackConfig("dev"), "rayswarm:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIown me@laptop", "rayswarm:sshPrivateKey": key },
    program,
  );
  // no machine key is generated (the only generated key is the promotion deploy key)
  expect(run.ofType("tls:index/privateKey:PrivateKey").map((k) => k.name)).toEqual(["dev-promotion-deploy-key"]);
  expect(run.ofType(T.keypair)[0].inputs?.publicKey).toBe("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIown me@laptop");
  expect(run.outputs.sshPrivateKey).toBe("(your configured key)");
  const conn = await unwrap<Record<string, unknown>>(run.ofType(T.ready)[0].props.connection as never);
  expect(conn.secret).toBe(true);
  expect(conn.value?.privateKey).toBe(key);
  void ADMIN_CIDR;
});
