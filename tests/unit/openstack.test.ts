import * as pulumi from "@pulumi/pulumi";
import type * as tls from "@pulumi/tls";
import * as yaml from "js-yaml";
import { program } from "../../stacks/program";
import {
  RAY_METRICS_PORT,
  RAY_PORTS,
  RAY_WORKER_PORTS,
  RABBITMQ_PORT,
  REDIS_PORT,
  SWARM_PORTS,
  ruleKey,
  topologyRules,
} from "../../components/openstack";
import { RunResult, runProgram, stackConfig, unwrap, ADMIN_CIDR } from "./support/harness";

/** Resource options by resource name, recorded by a stack transformation around the program. */
type Options = Map<string, pulumi.CustomResourceOptions>;
function withOptions(options: Options): () => unknown {
  return () => {
    pulumi.runtime.registerStackTransformation((args) => {
      options.set(args.name, args.opts as pulumi.CustomResourceOptions);
      return undefined;
    });
    return program();
  };
}

type Rule = Record<string, unknown> & { name: string; group?: string; remote?: string };
/** The security-group rules of a run, with their group's and remote group's short names. */
function rulesOf(run: RunResult, stack: string): Rule[] {
  const groupName = new Map(run.ofType(T.group).map((g) => [`${g.name}-id`, g.name.replace(`${stack}-`, "")]));
  return run.ofType(T.rule).map((r) => ({
    ...(r.inputs as Record<string, unknown>),
    name: r.name,
    group: groupName.get(String(r.inputs?.securityGroupId)),
    remote: r.inputs?.remoteGroupId === undefined ? undefined : groupName.get(String(r.inputs.remoteGroupId)),
  }));
}
const covers = (r: Record<string, unknown>, port: number) =>
  r.portRangeMin === undefined || (Number(r.portRangeMin) <= port && port <= Number(r.portRangeMax));
const RAY_PORT_LIST = [...Object.values(RAY_PORTS), RAY_PORTS.dashboardAgent + 1, RAY_PORTS.dashboardAgent + 2, ...RAY_WORKER_PORTS];

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
    ).toEqual(["orchestration-fip", ...Array.from({ length: expectedRoles["swarm-manager"] }, (_, i) => `swarm-manager-${i}-fip`)].sort());
    expect(run.ofType(T.keypair)).toHaveLength(1);
    expect(run.ofType(T.group)).toHaveLength(6);
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
    const internalPorts = [6379, 8265, 10001, 6380, 6381, 10002, 10999, 52365, 8090, 9100, 9091, 2377, 7946, 4789, 5672, 2375, 2376, 22];
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
        // from the bastion into every machine; from the Ray head into production (git push)
        const pair = [r.group, groupName.get(String(r.remoteGroupId))];
        expect([
          ["internal", "bastion"],
          ["swarm", "ray-head"],
        ]).toContainEqual(pair);
      }
    }
    // Monitoring: the node exporter, Ray's metrics export and the relay's /federate, from the
    // bastion group only (Ray binds 8090 on every address: no other rule may cover it).
    const fromBastion = rules.filter(
      (r) => r.remoteGroupId !== undefined && !ssh.includes(r) && groupName.get(String(r.remoteGroupId)) === "bastion",
    );
    expect(fromBastion.map((r) => [r.group, r.protocol, r.portRangeMin, r.portRangeMax]).sort()).toEqual([
      ["internal", "tcp", 9100, 9100],
      ["ray", "tcp", 8090, 8090],
      ["swarm", "tcp", 9091, 9091],
    ]);
    for (const port of [8090, 9100, 9091])
      for (const r of rules.filter((x) => x.protocol === "tcp" && covers(x, port) && x.portRangeMin !== undefined))
        expect({ port, description: r.description }).toEqual({ port, description: fromBastion.find((b) => b === r)?.description });
    // Every other rule is confined to a group of the cluster (ICMP: to the cluster subnet).
    const cidr = stackConfig(stack)["rayswarm:networkCidr"];
    for (const r of rules.filter((x) => !world(x) && !ssh.includes(x))) {
      if (r.protocol === "icmp") expect(r.remoteIpPrefix).toBe(cidr);
      else expect({ rule: r.description, remoteIpPrefix: r.remoteIpPrefix }).toEqual({ rule: r.description, remoteIpPrefix: undefined });
    }
  });

  test("the bastion alone is in the bastion group; production machines alone expose the serving port", () => {
    const groupName = new Map(run.ofType(T.group).map((g) => [`${g.name}-id`, g.name.replace(`${stack}-`, "")]));
    for (const p of run.ofType(T.port)) {
      const groups = (p.inputs?.securityGroupIds as string[]).map((id) => groupName.get(id));
      const isBastion = p.name === "orchestration-port";
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

  test("SSH host keys: one per machine, installed by its (secret) user data, checked on every connection and jump, in known_hosts", async () => {
    // by machine key (the instances are named by machine name, `<stack>-<key>`)
    const names = run.ofType(T.instance).map((i) => String(i.inputs?.name).slice(`${stack}-`.length));
    expect(names).toHaveLength(Object.values(expectedRoles).reduce((a, b) => a + b, 0));
    const bastion = "orchestration";
    const hostKey: Record<string, string> = {};
    const addressOf: Record<string, string> = {};
    for (const m of names) {
      const key = run.byName(`${m}-host-key`);
      expect(key.inputs?.algorithm).toBe("ED25519");
      const res = key.resource as tls.PrivateKey;
      const pub = String((await unwrap(res.publicKeyOpenssh)).value).trim();
      // (the engine makes it a secret: additionalSecretOutputs, checked below; mocks do not apply it)
      const priv = await unwrap(res.privateKeyOpenssh);
      expect(pub).toMatch(/^ssh-ed25519 /);
      hostKey[m] = pub;
      addressOf[m] = (run.byName(`${m}-port`).inputs?.fixedIps as { ipAddress: string }[])[0].ipAddress;
      // the user data carries this machine's key pair, and is a secret as a whole
      const userData = await unwrap(run.byName(`${m}-vm`).props.userData as pulumi.Input<string>);
      expect({ machine: m, secret: userData.secret }).toEqual({ machine: m, secret: true });
      const doc = yaml.load(String(userData.value)) as Record<string, unknown>;
      expect(doc).toMatchObject({
        ssh_deletekeys: true,
        ssh_genkeytypes: ["ed25519"],
        ssh_keys: { ed25519_private: priv.value, ed25519_public: pub },
      });
      expect(String(priv.value)).toMatch(/OPENSSH PRIVATE KEY/);
    }
    expect(new Set(Object.values(hostKey)).size).toBe(names.length);
    // the bastion is reached at its floating IP (the association's), the others at their private address
    const bastionIp = String(run.byName(`${bastion}-fip-assoc`).inputs?.floatingIp);
    expect(bastionIp).toMatch(/^198\.51\.100\./);
    const machineAt = new Map([
      [bastionIp, bastion],
      ...names.filter((m) => m !== bastion).map((m) => [addressOf[m], m] as [string, string]),
    ]);
    const remote = run.ofType(T.ready).concat(run.ofType("command:remote:CopyToRemote"));
    expect(remote.length).toBeGreaterThan(names.length);
    for (const c of remote) {
      const conn = (await unwrap<Record<string, unknown>>(c.props.connection as never)).value!;
      const machine = machineAt.get(String(conn.host));
      expect({ step: c.name, machine: machine !== undefined }).toEqual({ step: c.name, machine: true });
      expect({ step: c.name, hostKey: conn.hostKey }).toEqual({ step: c.name, hostKey: hostKey[machine!] });
      const proxy = conn.proxy as Record<string, unknown> | undefined;
      if (machine === bastion) expect(proxy).toBeUndefined();
      else
        expect({ step: c.name, proxy: proxy?.host, hostKey: proxy?.hostKey }).toEqual({
          step: c.name,
          proxy: bastionIp,
          hostKey: hostKey[bastion],
        });
    }
    // known_hosts: one line per machine, by the address its connection uses
    const known = String((await unwrap(run.outputs.sshKnownHosts as never)).value);
    expect(known.endsWith("\n")).toBe(true);
    expect(
      known
        .split("\n")
        .filter((l) => l)
        .sort(),
    ).toEqual(names.map((m) => `${m === bastion ? bastionIp : addressOf[m]} ${hostKey[m]}`).sort());
  });

  test("non-bastion machines are reached through the bastion; the bastion directly", async () => {
    // Steps on the orchestration machine itself: its readiness, and the monitoring's there
    // (Prometheus, its config and the machines' target files, its own exporter).
    const onBastion = new RegExp(
      `^(orchestration-ready|monitoring-(config|prometheus|target-.+|(scripts|stop|node-exporter)-orchestration))$`,
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
    expect(groups.map((g) => g.name).sort()).toEqual(["ray-workers", "swarm-managers", "swarm-workers"]);
    for (const g of groups) expect(g.inputs?.policies).toEqual(["anti-affinity"]);
    const managers = run.ofType(T.instance).filter((i) => i.name.includes("swarm-manager"));
    for (const m of managers) expect(m.inputs?.schedulerHints).toEqual([{ group: "swarm-managers-id" }]);
  });

  test("siblings are independent: no machine of a role waits for another of the same role", () => {
    const roleMachines = (role: string) =>
      run.resources.filter((r) => r.type === "rayswarm:openstack:Machine" && new RegExp(`^${role}-\\d+$`).test(r.name));
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
    const bastionReady = run.byName("orchestration-ready");
    for (const c of run.ofType(T.ready).filter((x) => x !== bastionReady)) {
      expect(run.dependsOnTransitively(c).has(bastionReady)).toBe(true);
    }
  });

  test("outputs: ssh command per machine through the bastion, addresses per role, dashboard tunnel", async () => {
    const ssh = (await unwrap<Record<string, string>>(run.outputs.sshCommands as never)).value!;
    expect(Object.keys(ssh)).toHaveLength(Object.values(expectedRoles).reduce((a, b) => a + b, 0));
    // the lines name the stack's key and known_hosts files on both hops (sshSetup writes them)
    const files = `-i ~/.ssh/rayswarm-${stack} -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-${stack}.known_hosts`;
    const bastion = ssh[`${stack}-orchestration`];
    expect(bastion).toMatch(new RegExp(String.raw`^ssh ${files} debian@198\.51\.100\.\d+$`));
    const bastionAddress = bastion.split("@")[1];
    const head = run.byName("ray-head-port").inputs?.fixedIps as { ipAddress: string }[];
    expect(ssh[`${stack}-ray-head`]).toBe(
      `ssh ${files} -o ProxyCommand="ssh ${files} -W %h:%p debian@${bastionAddress}" debian@${head[0].ipAddress}`,
    );
    expect(await unwrap<string>(run.outputs.sshSetup as never)).toEqual({
      value:
        `mkdir -p ~/.ssh && (umask 077 && pulumi stack output --stack ${stack} sshPrivateKey --show-secrets > ~/.ssh/rayswarm-${stack}) && ` +
        `pulumi stack output --stack ${stack} sshKnownHosts > ~/.ssh/rayswarm-${stack}.known_hosts`,
      secret: false,
    });
    const addrs = (await unwrap<Record<string, string[]>>(run.outputs.privateAddresses as never)).value!;
    expect(addrs["swarm-manager"]).toHaveLength(expectedRoles["swarm-manager"]);
    expect(new Set(Object.values(addrs).flat()).size).toBe(Object.values(expectedRoles).reduce((a, b) => a + b, 0));
    const tunnel = (await unwrap<string>(run.outputs.rayDashboardTunnel as never)).value!;
    // the dashboard admits only the Ray machines: the tunnel ends on the head, through the bastion
    expect(tunnel).toMatch(
      new RegExp(
        String.raw`^ssh -i .*ProxyCommand="ssh .* -W %h:%p debian@198\.51\.100\.\d+" -N -L 8265:10\.4[23]\.0\.11:8265 debian@10\.4[23]\.0\.11 `,
      ),
    );
  });

  test("model promotion: every production machine accepts SSH (git push) from the Ray head's group, not the Ray workers'", () => {
    const rules = rulesOf(run, stack);
    const intoSwarm = rules.filter((r) => r.group === "swarm" && r.protocol === "tcp" && covers(r, 22));
    expect(intoSwarm.map((r) => r.remote)).toEqual(["ray-head"]);
    expect([intoSwarm[0].portRangeMin, intoSwarm[0].portRangeMax]).toEqual([22, 22]);
    // no rule of any group lets the ray group (the workers) SSH anywhere
    expect(rules.filter((r) => r.remote === "ray" && covers(r, 22))).toEqual([]);
    // the Ray head alone is in the ray-head group; every production machine in the swarm group
    const groupName = new Map(run.ofType(T.group).map((g) => [`${g.name}-id`, g.name.replace(`${stack}-`, "")]));
    const groupsOf = (port: string) => (run.byName(port).inputs?.securityGroupIds as string[]).map((id) => groupName.get(id));
    for (const p of run.ofType(T.port))
      expect({ port: p.name, rayHead: groupsOf(p.name).includes("ray-head") }).toEqual({
        port: p.name,
        rayHead: p.name === "ray-head-port",
      });
    expect(groupsOf("ray-head-port")).toEqual(expect.arrayContaining(["internal", "ray", "ray-head"]));
    for (const p of run.ofType(T.port).filter((x) => /swarm-(manager|worker)/.test(x.name))) expect(groupsOf(p.name)).toContain("swarm");
  });

  test("encrypted overlay (the default): ESP (IP protocol 50) is allowed between the swarm machines only", () => {
    const esp = rulesOf(run, stack).filter((r) => r.protocol === "esp");
    expect(esp).toHaveLength(1);
    expect(esp[0]).toMatchObject({ group: "swarm", remote: "swarm", direction: "ingress", ethertype: "IPv4" });
    expect(esp[0].portRangeMin).toBeUndefined();
    expect(esp[0].remoteIpPrefix).toBeUndefined();
  });

  test("security: Ray's ports only from the Ray group; Redis, RabbitMQ and Swarm only from the swarm group", () => {
    const rules = rulesOf(run, stack);
    const groupName = new Map(run.ofType(T.group).map((g) => [`${g.name}-id`, g.name.replace(`${stack}-`, "")]));
    const groupsOfRole = (re: RegExp) =>
      new Set(
        run
          .ofType(T.port)
          .filter((p) => re.test(p.name))
          .flatMap((p) => (p.inputs?.securityGroupIds as string[]).map((id) => groupName.get(id))),
      );
    const rayGroups = groupsOfRole(/-ray-(head|worker)/);
    const swarmGroups = groupsOfRole(/-swarm-(manager|worker)/);
    // A Ray machine's rules that open a Ray port: from the ray group, nothing else.
    for (const r of rules.filter((x) => rayGroups.has(x.group) && x.protocol !== "icmp")) {
      for (const p of RAY_PORT_LIST.filter((port) => covers(r, port)))
        expect({ rule: r.description, port: p, remote: r.remote, cidr: r.remoteIpPrefix }).toEqual({
          rule: r.description,
          port: p,
          remote: "ray",
          cidr: undefined,
        });
    }
    // Every Ray port is open to the Ray group (the cluster still works).
    for (const p of RAY_PORT_LIST) expect(rules.some((r) => r.group === "ray" && r.remote === "ray" && covers(r, p))).toBe(true);
    // A swarm machine's rules that open Redis, RabbitMQ or a Swarm port: from the swarm group only.
    const swarmPorts = [REDIS_PORT, RABBITMQ_PORT, ...Object.values(SWARM_PORTS)];
    for (const r of rules.filter((x) => swarmGroups.has(x.group) && x.protocol !== "icmp" && !(x.group === "serving"))) {
      for (const p of swarmPorts.filter((port) => covers(r, port)))
        expect({ rule: r.description, port: p, remote: r.remote }).toEqual({ rule: r.description, port: p, remote: "swarm" });
    }
    for (const p of swarmPorts) expect(rules.some((r) => r.group === "swarm" && r.remote === "swarm" && covers(r, p))).toBe(true);
    // Nothing but the serving port from anywhere in the world (IPv4 or IPv6), on any group.
    const dockerApi = [2375, 2376];
    for (const r of rules.filter((x) => x.remoteIpPrefix === "0.0.0.0/0" || x.remoteIpPrefix === "::/0"))
      for (const p of [...RAY_PORT_LIST, RAY_METRICS_PORT, ...swarmPorts, ...dockerApi, 22])
        expect({ rule: r.description, port: p, open: covers(r, p) }).toEqual({ rule: r.description, port: p, open: false });
  });

  test("destroy order: every machine depends on its security groups' rules, so they outlive its delete steps", () => {
    const rules = run.ofType(T.rule);
    for (const ready of run.ofType(T.ready).filter((c) => c.name.endsWith("-ready"))) {
      const machine = ready.name.replace(/-ready$/, "");
      const port = run.byName(`${machine}-port`);
      const groups = new Set(port.inputs?.securityGroupIds as string[]);
      const own = rules.filter((r) => groups.has(String(r.inputs?.securityGroupId)));
      expect(own.length).toBeGreaterThan(0);
      const deps = run.dependsOnTransitively(ready);
      for (const r of own) expect({ machine, rule: r.name, depends: deps.has(r) }).toEqual({ machine, rule: r.name, depends: true });
      // the instance itself too (deleted before the rules that let SSH in)
      const vmDeps = run.dependsOnTransitively(run.byName(`${machine}-vm`));
      for (const r of own)
        expect({ vm: machine, rule: r.name, depends: vmDeps.has(r) }).toEqual({ vm: machine, rule: r.name, depends: true });
    }
  });

  test("destroy order: every remote command reaches the machines through the bastion's floating-IP association", () => {
    const assoc = run.byName("orchestration-fip-assoc");
    const remote = run.ofType(T.ready).concat(run.ofType("command:remote:CopyToRemote"));
    expect(remote.length).toBeGreaterThan(10);
    for (const c of remote)
      expect({ command: c.name, depends: run.dependsOnTransitively(c).has(assoc) }).toEqual({ command: c.name, depends: true });
  });
});

describe.each(["dev", "prod"])("replacements on OpenStack (%s)", (stack) => {
  const options: Options = new Map();
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), withOptions(options));
  });

  test("an instance whose port keeps its fixed address is deleted before its replacement is created", () => {
    const instances = run.ofType(T.instance);
    expect(instances.length).toBeGreaterThan(4);
    for (const i of instances) {
      const networks = i.inputs?.networks as { port?: string }[];
      expect(networks.every((n) => n.port !== undefined)).toBe(true);
      expect({ instance: i.name, deleteBeforeReplace: options.get(i.name)?.deleteBeforeReplace }).toEqual({
        instance: i.name,
        deleteBeforeReplace: true,
      });
    }
  });

  test("the host keys' private halves and the instances' user data are secret outputs in the state", () => {
    const instances = run.ofType(T.instance);
    for (const i of instances) {
      const machine = String(i.inputs?.name).slice(`${stack}-`.length); // its key, in its children's names
      expect({ vm: i.name, secret: options.get(i.name)?.additionalSecretOutputs }).toEqual({
        vm: i.name,
        secret: expect.arrayContaining(["userData"]),
      });
      expect({ key: machine, secret: options.get(`${machine}-host-key`)?.additionalSecretOutputs }).toEqual({
        key: machine,
        secret: expect.arrayContaining(["privateKeyOpenssh", "privateKeyPem"]),
      });
    }
  });

  test("a port with a fixed address, and a floating-IP association, are deleted before their replacement", () => {
    for (const p of run.ofType(T.port)) {
      expect((p.inputs?.fixedIps as { ipAddress?: string }[])[0].ipAddress).toMatch(/^10\.4[23]\.0\.\d+$/);
      expect({ port: p.name, deleteBeforeReplace: options.get(p.name)?.deleteBeforeReplace }).toEqual({
        port: p.name,
        deleteBeforeReplace: true,
      });
    }
    const assocs = run.ofType("openstack:networking/floatingIpAssociate:FloatingIpAssociate");
    expect(assocs.length).toBeGreaterThan(1);
    for (const a of assocs) expect({ assoc: a.name, dbr: options.get(a.name)?.deleteBeforeReplace }).toEqual({ assoc: a.name, dbr: true });
  });
});

test.each([
  ["true", 1],
  ["false", 0],
])("rayswarm:overlayEncryption %s: the stack has %i ESP rule(s) between the swarm machines", async (value, count) => {
  const run = await runProgram("dev", { ...stackConfig("dev"), "rayswarm:overlayEncryption": value }, program);
  const esp = rulesOf(run, "dev").filter((r) => r.protocol === "esp");
  expect(esp).toHaveLength(count);
  for (const r of esp) expect(r).toMatchObject({ group: "swarm", remote: "swarm" });
  // the other rules stay as they are
  expect(rulesOf(run, "dev").filter((r) => r.protocol !== "esp").length).toBeGreaterThan(15);
});

describe("the rule table", () => {
  const base = { adminCidr: ADMIN_CIDR, clusterCidr: "10.42.0.0/24", servingPort: 8080, rayWorkerPorts: RAY_WORKER_PORTS };

  test("ESP between swarm machines is there when the overlay is encrypted (the default) and absent when it is not", () => {
    const esp = (rules: ReturnType<typeof topologyRules>) => rules.filter((r) => r.protocol === "esp");
    expect(esp(topologyRules(base))).toHaveLength(1);
    expect(esp(topologyRules({ ...base, overlayEncryption: true }))).toEqual([
      expect.objectContaining({ group: "swarm", remoteGroup: "swarm", protocol: "esp" }),
    ]);
    expect(esp(topologyRules({ ...base, overlayEncryption: true }))[0].portMin).toBeUndefined();
    expect(esp(topologyRules({ ...base, overlayEncryption: false }))).toEqual([]);
  });

  test("rule names come from what a rule is, not from its position: toggling ESP renames no other rule", () => {
    const on = topologyRules(base).map(ruleKey);
    const off = topologyRules({ ...base, overlayEncryption: false }).map(ruleKey);
    expect(new Set(on).size).toBe(on.length);
    expect(on.filter((k) => !off.includes(k))).toEqual(["swarm-swarm-encrypted-overlay-esp"]);
    expect(off.every((k) => on.includes(k))).toBe(true);
  });
});

test("a configured public key is used instead of a generated one (and no key output is made)", async () => {
  const key = ["-----BEGIN", "OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"].join(" ");
  const run = await runProgram(
    "dev",
    { ...stackConfig("dev"), "rayswarm:sshPublicKey": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIown me@laptop", "rayswarm:sshPrivateKey": key },
    program,
  );
  // no login key is generated: the keys made are the machines' host keys and the promotion deploy key
  expect(run.ofType("tls:index/privateKey:PrivateKey").map((k) => k.name)).toEqual([
    "orchestration-host-key",
    "ray-head-host-key",
    "ray-worker-0-host-key",
    "swarm-manager-0-host-key",
    "swarm-worker-0-host-key",
    "promotion-deploy-key",
  ]);
  expect(run.ofType(T.keypair)[0].inputs?.publicKey).toBe("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIown me@laptop");
  expect(run.outputs.sshPrivateKey).toBe("(your configured key)");
  const conn = await unwrap<Record<string, unknown>>(run.ofType(T.ready)[0].props.connection as never);
  expect(conn.secret).toBe(true);
  expect(conn.value?.privateKey).toBe(key);
  // the ssh lines use the operator's own key and the stack's known_hosts file, which sshSetup writes
  const ssh = (await unwrap<Record<string, string>>(run.outputs.sshCommands as never)).value!;
  expect(ssh["dev-orchestration"]).toMatch(/^ssh -o UserKnownHostsFile=~\/\.ssh\/rayswarm-dev\.known_hosts debian@198\.51\.100\.\d+$/);
  expect(await unwrap(run.outputs.sshSetup as never)).toEqual({
    value: "mkdir -p ~/.ssh && pulumi stack output --stack dev sshKnownHosts > ~/.ssh/rayswarm-dev.known_hosts",
    secret: false,
  });
  expect(
    String((await unwrap(run.outputs.sshKnownHosts as never)).value)
      .split("\n")
      .filter((l) => l),
  ).toHaveLength(5);
  void ADMIN_CIDR;
});
