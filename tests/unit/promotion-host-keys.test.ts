/**
 * Model promotion's git push from the Ray head checks the production machines' SSH host keys:
 * each known key reaches the development machine's known_hosts on a step's stdin, and when all
 * are known the pushes use StrictHostKeyChecking=yes (OpenStack, local; existing with hostKeys).
 */
import * as pulumi from "@pulumi/pulumi";
import { program } from "../../stacks/program";
import { RunResult, localConfig, runProgram, stackConfig, unwrap } from "./support/harness";

const CMD = "command:remote:Command";
const REPO = "/var/lib/rayswarm/models-repo";

/** The program with every resource's options recorded by name. */
function recording(options: Map<string, pulumi.CustomResourceOptions>): () => unknown {
  return () => {
    pulumi.runtime.registerStackTransformation((args) => {
      options.set(args.name, args.opts as pulumi.CustomResourceOptions);
      return undefined;
    });
    return program();
  };
}

const text = async (v: unknown) => (await unwrap(v as pulumi.Input<string>)).value;

/** address -> key, from the sshKnownHosts output (`<address> <type> <key>` lines). */
async function knownHostsOf(run: RunResult): Promise<Map<string, string>> {
  const lines = String(await text(run.outputs.sshKnownHosts))
    .split("\n")
    .filter((l) => l);
  return new Map(lines.map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1)]));
}

/**
 * Checks, for every production machine (promotion-production-<machine> steps), the
 * development machine's known-host step: the key on stdin (not a secret, no private key), add
 * and remove lines naming the push's address, triggers, order, delete-before-replace; and that
 * its push target waits for it. Returns the machines checked.
 */
async function expectKnownHostSteps(
  run: RunResult,
  options: Map<string, pulumi.CustomResourceOptions>,
  _stack: string,
  keyOf: (machine: string, address: string) => string | undefined,
): Promise<{ checked: string[]; unchecked: string[] }> {
  const development = run.byName(`promotion-development`);
  const devConnection = (await unwrap<Record<string, unknown>>(development.props.connection as never)).value!;
  const production = run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-production-`));
  expect(production.length).toBeGreaterThan(0);
  const checked: string[] = [];
  const unchecked: string[] = [];
  for (const p of production) {
    const machine = p.name.slice(`promotion-production-`.length);
    const target = run.byName(`promotion-target-${machine}`);
    const address = /target\.sh add \S+ git@([^\s;]+)/.exec(String(await text(target.props.create)))![1];
    const key = keyOf(machine, address);
    const found = run.ofType(CMD).filter((c) => c.name === `promotion-known-host-${machine}`);
    if (key === undefined) {
      expect({ machine, steps: found.length }).toEqual({ machine, steps: 0 });
      unchecked.push(machine);
      continue;
    }
    expect({ machine, steps: found.length }).toEqual({ machine, steps: 1 });
    const step = found[0];
    const stdin = await unwrap<string>(step.props.stdin as pulumi.Input<string>);
    expect({ machine, stdin: stdin.value }).toEqual({ machine, stdin: `${key}\n` });
    expect(stdin.value).not.toContain("PRIVATE KEY");
    expect(String(await text(step.props.create))).toContain(`known-host.sh add ${REPO} ${address}; else`);
    expect(String(await text(step.props.delete))).toContain(`known-host.sh remove ${REPO} ${address}; else`);
    // runs on the development machine, after its repo exists; the push target waits for it
    expect((await unwrap<Record<string, unknown>>(step.props.connection as never)).value).toEqual(devConnection);
    expect(run.dependsOnTransitively(step).has(development)).toBe(true);
    expect(run.dependsOnTransitively(target).has(step)).toBe(true);
    // the development machine's identity, the address and the script's hash; a replacement
    // removes the old line before the new one is written
    const triggers = (await unwrap(step.props.triggers as pulumi.Input<unknown[]>)).value as unknown[];
    expect(triggers).toHaveLength(3);
    expect(triggers[0]).toBe((await unwrap(development.props.triggers as pulumi.Input<unknown[]>)).value![0]);
    expect(triggers[1]).toBe(address);
    expect(String(triggers[2])).toMatch(/^[0-9a-f]{16}$/);
    expect(options.get(step.name)?.deleteBeforeReplace).toBe(true);
    checked.push(machine);
  }
  return { checked, unchecked };
}

/** Each known-host step carries the public half of the host key the program made for that machine (and put on it). */
async function expectTheMachinesOwnKeys(run: RunResult, _stack: string, machines: string[]): Promise<void> {
  const keys = new Set<string>();
  for (const m of machines) {
    const generated = run.byName(`${m}-host-key`);
    expect(generated.inputs?.algorithm).toBe("ED25519");
    const pub = String(await text((generated.resource as unknown as { publicKeyOpenssh: pulumi.Output<string> }).publicKeyOpenssh));
    const stdin = String(await text(run.byName(`promotion-known-host-${m}`).props.stdin));
    expect({ m, stdin }).toEqual({ m, stdin: `${pub.trim()}\n` });
    keys.add(stdin);
  }
  expect(keys.size).toBe(machines.length);
}

/** The development step's command line and whether its stdin (the deploy key) is a secret. */
async function developmentStep(run: RunResult, _stack: string) {
  const dev = run.byName(`promotion-development`);
  const stdin = await unwrap<string>(dev.props.stdin as pulumi.Input<string>);
  return { create: String(await text(dev.props.create)), secretKey: stdin.secret && String(stdin.value).includes("PRIVATE KEY") };
}

describe.each(["dev", "prod"])("OpenStack %s: the pushes check the production machines' generated host keys", (stack) => {
  const options = new Map<string, pulumi.CustomResourceOptions>();
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), recording(options));
  });

  test("each swarm machine's ED25519 key (the one cloud-init installs) reaches the head's known_hosts on stdin; StrictHostKeyChecking=yes", async () => {
    const known = await knownHostsOf(run);
    const { checked, unchecked } = await expectKnownHostSteps(run, options, stack, (_m, address) => known.get(address));
    expect(unchecked).toEqual([]);
    expect(checked.length).toBe(stack === "dev" ? 2 : 6);
    for (const m of checked) expect(m).toMatch(new RegExp(`^swarm-(manager|worker)-\\d+$`));
    await expectTheMachinesOwnKeys(run, stack, checked);
    const dev = await developmentStep(run, stack);
    expect(dev.create).toContain(
      `env PROMOTION_STRICT_HOST_KEYS=yes bash /opt/rayswarm/current/promotion/setup-development.sh ${REPO}; else`,
    );
    expect(dev.secretKey).toBe(true);
  });

  test("a push target is deleted before it is replaced (a create-before-delete would remove the URL its replacement added)", () => {
    const targets = run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-target-`));
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect({ t: t.name, dbr: options.get(t.name)?.deleteBeforeReplace }).toEqual({ t: t.name, dbr: true });
  });
});

describe("local: the node containers' host keys are the program's, so the pushes check them too", () => {
  test("known-host steps for both swarm machines with their containers' keys; StrictHostKeyChecking=yes", async () => {
    const options = new Map<string, pulumi.CustomResourceOptions>();
    const run = await runProgram("local", localConfig(), recording(options));
    const known = await knownHostsOf(run);
    const { checked, unchecked } = await expectKnownHostSteps(run, options, "local", (_m, address) => known.get(address));
    expect(checked.sort()).toEqual(["swarm-manager-0", "swarm-worker-0"]);
    expect(unchecked).toEqual([]);
    await expectTheMachinesOwnKeys(run, "local", checked);
    expect((await developmentStep(run, "local")).create).toContain("env PROMOTION_STRICT_HOST_KEYS=yes bash");
  });
});

describe("existing machines: the inventory's hostKey", () => {
  const KEY = ["-----BEGIN", "OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----"].join(" ");
  const hostKey = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${"k".repeat(40)}${n}`;
  const inventory = [
    { name: "orch", address: "203.0.113.10", port: 2201, roles: ["orchestration"], user: "root", hostKey: hostKey(0) },
    { name: "head", address: "172.30.0.11", roles: ["ray-head"], user: "root", hostKey: hostKey(1) },
    { name: "rw0", address: "172.30.0.12", roles: ["ray-worker"], user: "root", hostKey: hostKey(2) },
    { name: "mgr0", address: "172.30.0.13", privateAddress: "10.9.0.13", roles: ["swarm-manager"], user: "root", hostKey: hostKey(3) },
    { name: "sw0", address: "172.30.0.14", roles: ["swarm-worker"], user: "root", hostKey: `${hostKey(4)} root@sw0` },
  ];
  const config = (hosts: unknown[]) => ({
    "rayswarm:environment": "existing",
    "rayswarm:sshPrivateKey": KEY,
    "rayswarm:hosts": JSON.stringify(hosts),
  });

  test("every machine listed with its key: known_hosts steps with those keys at the push's address, StrictHostKeyChecking=yes", async () => {
    const options = new Map<string, pulumi.CustomResourceOptions>();
    const run = await runProgram("existing", config(inventory), recording(options));
    const byName = new Map(inventory.map((h) => [h.name, h]));
    const { checked } = await expectKnownHostSteps(run, options, "existing", (machine, address) => {
      const h = byName.get(machine)!;
      // the push goes to the machine's private address: the key is filed under it
      expect(address).toBe(h.privateAddress ?? h.address);
      return h.hostKey;
    });
    expect(checked.sort()).toEqual(["mgr0", "sw0"]);
    expect((await developmentStep(run, "existing")).create).toContain("env PROMOTION_STRICT_HOST_KEYS=yes bash");
  });

  test("every machine listed with its key: sshKnownHosts names each as the ssh lines reach it, and the ssh lines check it", async () => {
    const run = await runProgram("existing", config(inventory), program);
    expect(String(await text(run.outputs.sshKnownHosts))).toBe(
      [
        `[203.0.113.10]:2201 ${hostKey(0)}`,
        `172.30.0.11 ${hostKey(1)}`,
        `172.30.0.12 ${hostKey(2)}`,
        `172.30.0.13 ${hostKey(3)}`,
        `172.30.0.14 ${hostKey(4)} root@sw0`,
        "",
      ].join("\n"),
    );
    const files = "-o UserKnownHostsFile=~/.ssh/rayswarm-existing.known_hosts";
    const ssh = (await unwrap<Record<string, string>>(run.outputs.sshCommands as never)).value!;
    expect(ssh.orch).toBe(`ssh ${files} -p 2201 root@203.0.113.10`);
    expect(ssh.head).toBe(`ssh ${files} -o ProxyCommand="ssh ${files} -p 2201 -W %h:%p root@203.0.113.10" root@172.30.0.11`);
    expect(await text(run.outputs.sshSetup)).toBe(
      "mkdir -p ~/.ssh && pulumi stack output --stack existing sshKnownHosts > ~/.ssh/rayswarm-existing.known_hosts",
    );
  });

  test("a machine without hostKey: the others' keys are still filed and checked, its own is trusted on first use (accept-new)", async () => {
    const partial = inventory.map((h) => (h.name === "sw0" ? { ...h, hostKey: undefined } : h));
    const options = new Map<string, pulumi.CustomResourceOptions>();
    const run = await runProgram("existing", config(partial), recording(options));
    const byName = new Map(partial.map((h) => [h.name, h]));
    const { checked, unchecked } = await expectKnownHostSteps(run, options, "existing", (m) => byName.get(m)!.hostKey);
    expect(checked).toEqual(["mgr0"]);
    expect(unchecked).toEqual(["sw0"]);
    const dev = await developmentStep(run, "existing");
    expect(dev.create).not.toContain("PROMOTION_STRICT_HOST_KEYS");
    expect(dev.create).toContain(`bash /opt/rayswarm/current/promotion/setup-development.sh ${REPO}; else`);
    // sshKnownHosts lists the keys that are given; the ssh lines stay bare (today's behaviour)
    const known = String(await text(run.outputs.sshKnownHosts));
    expect(known.split("\n").filter((l) => l)).toHaveLength(4);
    expect(known).not.toContain("172.30.0.14");
    const ssh = (await unwrap<Record<string, string>>(run.outputs.sshCommands as never)).value!;
    expect(ssh.head).toBe("ssh -J root@203.0.113.10:2201 root@172.30.0.11");
  });

  test("no hostKey anywhere: no known-host step, accept-new, and sshKnownHosts says there are none (today's behaviour)", async () => {
    const none = inventory.map((h) => ({ ...h, hostKey: undefined }));
    const run = await runProgram("existing", config(none), program);
    expect(run.ofType(CMD).filter((c) => c.name.includes("-promotion-known-host-"))).toEqual([]);
    expect((await developmentStep(run, "existing")).create).not.toContain("PROMOTION_STRICT_HOST_KEYS");
    expect(await text(run.outputs.sshKnownHosts)).toBe("(host keys not generated by this stack)");
  });
});
