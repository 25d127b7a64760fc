/**
 * scripts/host swarm + docker scripts, for real: two node containers (rayswarm/node:dev,
 * systemd PID 1, their own Docker engines) on a project network. Forms a 2-node swarm
 * with docker-install / swarm-init / swarm-tokens / swarm-join (token on stdin) /
 * swarm-label, checks the nodes and that an overlay network carries traffic between
 * the nodes, runs every script a second time (changed=false, same node IDs), then
 * swarm-leave / swarm-node-rm. Also runs a script over SSH as the sudo user the
 * Pulumi components log in as. Containers, network and volumes are removed afterwards.
 */
import * as fs from "fs";
import { SWARM_PORTS } from "../../components/core/ports";
import { Fleet, Node, REMOTE_SCRIPTS, TINY_IMAGE, Timings, ensureImages, ssh, sshKeyPair } from "./support/nodes";

const MGMT = String(SWARM_PORTS.management);

interface Tokens {
  worker: string;
  manager: string;
  managerAddr: string;
  clusterId: string;
}
interface SwarmNode {
  hostname: string;
  role: string;
  status: string;
  availability: string;
  labels: Record<string, string>;
  id: string;
}

const fleet = new Fleet("swarm");
const plain = new Fleet("swarm-nosystemd");
const timings = new Timings();
const key = sshKeyPair();
let manager: Node;
let worker: Node;
let tokens: Tokens;
let nodesBefore: SwarmNode[];

async function swarmNodes(): Promise<SwarmNode[]> {
  const r = await manager.script("swarm-nodes");
  expect(r.changed).toBe(false);
  expect(r.output).toHaveLength(1);
  return JSON.parse(r.output[0]) as SwarmNode[];
}

beforeAll(async () => {
  await timings.time("images present (build if missing)", async () => ensureImages());
  [manager, worker] = await timings.time("start 2 node containers (systemd boot)", () =>
    fleet.start(["mgr", "wkr"], { authorizedKeys: key.publicKey }),
  );
});

afterAll(() => {
  fleet.cleanup();
  plain.cleanup();
  fs.rmSync(key.dir, { recursive: true, force: true });
  process.stdout.write(timings.report("swarm-scripts timings"));
});

test("systemd is PID 1 and sshd accepts the key for the sudo user", async () => {
  expect((await manager.mustExec(["cat", "/proc/1/comm"])).trim()).toBe("systemd");
  const r = await timings.time("ssh rayswarm@node sudo docker-install.sh", () =>
    ssh(manager, "rayswarm", key.privateKey, `sudo -n bash ${REMOTE_SCRIPTS}/docker-install.sh`),
  );
  expect(r.stderr).toMatch(/rayswarm\[rs-it-swarm-mgr\] docker-install: docker .* ready/);
  expect(r.stdout.trim().split("\n").pop()).toMatch(/^changed=(true|false)$/);
  expect(r.code).toBe(0);
});

test("first run forms a 2-node swarm", async () => {
  await timings.time("docker-install x2 (parallel)", async () => {
    const rs = await Promise.all([manager.script("docker-install"), worker.script("docker-install")]);
    for (const r of rs) expect(r.output).toEqual([]);
  });

  const init = await timings.time("swarm-init", () => manager.script("swarm-init", [manager.ip, MGMT]));
  expect(init.changed).toBe(true);
  expect(init.output).toEqual([]);
  expect(init.stdout + init.stderr).not.toMatch(/SWMTKN/);

  const tok = await timings.time("swarm-tokens", () => manager.script("swarm-tokens"));
  expect(tok.changed).toBe(false);
  expect(tok.output).toHaveLength(1);
  tokens = JSON.parse(tok.output[0]) as Tokens;
  expect(tokens.worker).toMatch(/^SWMTKN-1-/);
  expect(tokens.manager).toMatch(/^SWMTKN-1-/);
  expect(tokens.worker).not.toBe(tokens.manager);
  expect(tokens.managerAddr).toBe(`${manager.ip}:2377`);
  expect(tokens.clusterId).toMatch(/^[a-z0-9]{25}$/);
  expect(tok.stderr).not.toMatch(/SWMTKN/);

  const join = await timings.time("swarm-join (token on stdin)", () =>
    worker.script("swarm-join", [tokens.managerAddr, worker.ip, MGMT], `${tokens.worker}\n`),
  );
  expect(join.changed).toBe(true);
  expect(join.stderr).not.toContain(tokens.worker);
  // The token never appears in a process's argv: the join went through the Engine API.
  const label = await timings.time("swarm-label", () =>
    manager.script("swarm-label", [worker.name, "rayswarm.role=swarm-worker", "rayswarm.serving=true"]),
  );
  expect(label.changed).toBe(true);

  const nodes = await swarmNodes();
  expect(nodes.map((n) => [n.hostname, n.role, n.status, n.availability])).toEqual([
    [manager.name, "manager", "ready", "active"],
    [worker.name, "worker", "ready", "active"],
  ]);
  expect(nodes[1].labels).toEqual({ "rayswarm.role": "swarm-worker", "rayswarm.serving": "true" });
  nodesBefore = nodes;
});

test("an overlay network carries traffic between the nodes (dnsrr service)", async () => {
  await timings.time("docker save|load tiny image into both engines", () =>
    Promise.all([manager.loadImage(TINY_IMAGE), worker.loadImage(TINY_IMAGE)]),
  );
  await manager.mustExec(["docker", "network", "create", "-d", "overlay", "--attachable", "it-overlay"]);
  // A service pinned (by the label set above) to the worker, dnsrr: no IPVS here.
  await manager.mustExec([
    "docker",
    "service",
    "create",
    "-d",
    "--name",
    "echo",
    "--endpoint-mode",
    "dnsrr",
    "--network",
    "it-overlay",
    "--constraint",
    "node.labels.rayswarm.serving==true",
    TINY_IMAGE,
    "httpd",
    "-f",
    "-p",
    "8080",
    "-h",
    "/www",
  ]);
  await timings.time("service task running on the worker", async () => {
    for (let i = 0; i < 60; i++) {
      const ps = await manager.mustExec(["docker", "service", "ps", "echo", "--format", "{{.Node}} {{.CurrentState}}"]);
      if (ps.includes(`${worker.name} Running`)) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error("service task not running on the worker after 60s");
  });
  // From a container on the manager's engine, across the overlay, to the worker's task.
  const r = await timings.time("manager -> worker over the overlay (ping + http)", () =>
    manager.exec([
      "docker",
      "run",
      "--rm",
      "--network",
      "it-overlay",
      TINY_IMAGE,
      "sh",
      "-c",
      "for i in $(seq 1 20); do ping -c 1 -W 1 echo >/dev/null 2>&1 && break; sleep 1; done; ping -c 2 -W 2 echo && wget -qO- http://echo:8080/",
    ]),
  );
  expect(r.stderr).toBe("");
  expect(r.stdout).toMatch(/2 packets transmitted, 2 packets received/);
  expect(r.stdout.trim().split("\n").pop()).toBe("rayswarm");
  expect(r.code).toBe(0);
  await manager.mustExec(["docker", "service", "rm", "echo"]);
});

test("second run of every script changes nothing", async () => {
  await timings.time("second run of all scripts", async () => {
    const again = [
      await manager.script("docker-install"),
      await worker.script("docker-install"),
      await manager.script("swarm-init", [manager.ip, MGMT]),
      await manager.script("swarm-tokens"),
      await worker.script("swarm-join", [tokens.managerAddr, worker.ip, MGMT], `${tokens.worker}\n`),
      await manager.script("swarm-label", [worker.name, "rayswarm.role=swarm-worker", "rayswarm.serving=true"]),
      await manager.script("swarm-nodes"),
    ];
    for (const r of again) expect(r.changed).toBe(false);
    const tok2 = JSON.parse(again[3].output[0]) as Tokens;
    expect(tok2).toEqual(tokens);
  });
  const nodes = await swarmNodes();
  expect(nodes).toEqual(nodesBefore);
});

test("scripts fail clearly on bad input", async () => {
  const empty = await worker.scriptFails("swarm-join", [tokens.managerAddr, worker.ip, MGMT], "");
  expect(empty.stderr).toMatch(/rayswarm\[rs-it-swarm-wkr\] swarm-join: ERROR: no join token on stdin/);
  const other = await worker.scriptFails("swarm-join", ["10.255.255.1:2377", worker.ip, MGMT], `${tokens.worker}\n`);
  expect(other.stderr).toMatch(/already a member of a different swarm/);
  expect(other.stderr).not.toContain(tokens.worker);
  const notMgr = await worker.scriptFails("swarm-tokens");
  expect(notMgr.stderr).toMatch(/swarm worker; run this on a manager/);
  const usage = await manager.scriptFails("swarm-init");
  expect(usage.stderr).toMatch(/usage: swarm-init.sh <advertise-addr> <management-port>/);
});

test("swarm-leave + swarm-node-rm remove the worker, idempotently", async () => {
  const leave = await timings.time("swarm-leave (worker)", () => worker.script("swarm-leave"));
  expect(leave.changed).toBe(true);
  const rm = await timings.time("swarm-node-rm (on manager)", () => manager.script("swarm-node-rm", [worker.name]));
  expect(rm.changed).toBe(true);
  expect((await worker.script("swarm-leave")).changed).toBe(false);
  expect((await manager.script("swarm-node-rm", [worker.name])).changed).toBe(false);
  const nodes = await swarmNodes();
  expect(nodes.map((n) => n.hostname)).toEqual([manager.name]);

  // The node can join again (re-create after scale-in), and the last manager can leave.
  // This time like the Pulumi component: over SSH as the sudo user, token on stdin.
  const rejoin = await timings.time("swarm-join again over ssh + sudo (token on stdin)", () =>
    ssh(
      worker,
      "rayswarm",
      key.privateKey,
      `sudo -n bash ${REMOTE_SCRIPTS}/swarm-join.sh ${tokens.managerAddr} ${worker.ip} ${MGMT}`,
      `${tokens.worker}\n`,
    ),
  );
  expect(rejoin.stdout).toBe("changed=true\n");
  expect(rejoin.stderr).not.toContain(tokens.worker);
  expect(rejoin.code).toBe(0);
  expect((await swarmNodes()).map((n) => n.status)).toEqual(["ready", "ready"]);

  // A replaced host that re-joined before its old node entry was removed: two nodes
  // share the hostname (old one Down, new one Ready); swarm-node-rm removes only the
  // stale entry. swarm-label also finds a node by its address.
  await timings.time("stale + live node with the same name: node-rm keeps the live one", async () => {
    expect((await worker.script("swarm-leave")).changed).toBe(true);
    expect((await worker.script("swarm-join", [tokens.managerAddr, worker.ip, MGMT], `${tokens.worker}\n`)).changed).toBe(true);
    let named: SwarmNode[] = [];
    for (let i = 0; i < 60; i++) {
      named = (await swarmNodes()).filter((n) => n.hostname === worker.name);
      if (
        named
          .map((n) => n.status)
          .sort()
          .join() === "down,ready"
      )
        break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(named.map((n) => n.status).sort()).toEqual(["down", "ready"]);
    const live = named.find((n) => n.status === "ready")!;
    expect((await manager.script("swarm-node-rm", [worker.name])).changed).toBe(true);
    const after = (await swarmNodes()).filter((n) => n.hostname === worker.name);
    expect(after.map((n) => [n.id, n.status])).toEqual([[live.id, "ready"]]);
    expect((await manager.script("swarm-label", [worker.ip, "rayswarm.serving=true"])).changed).toBe(true);
    expect((await swarmNodes()).find((n) => n.id === live.id)!.labels).toEqual({ "rayswarm.serving": "true" });
  });

  expect((await manager.script("swarm-leave")).changed).toBe(true);
  expect((await manager.script("swarm-leave")).changed).toBe(false);
});

test("without systemd (plain container) docker-install falls back to a detached dockerd", async () => {
  const [node] = await plain.start(["plain"], { noSystemd: true });
  expect((await node.mustExec(["cat", "/proc/1/comm"])).trim()).not.toBe("systemd");
  const first = await timings.time("docker-install without systemd", () => node.script("docker-install"));
  expect(first.changed).toBe(true);
  expect(first.stderr).toMatch(/no systemd: starting dockerd detached/);
  expect((await node.script("docker-install")).changed).toBe(false);
  const init = await node.script("swarm-init", [node.ip, MGMT]);
  expect(init.changed).toBe(true);
  expect((await node.script("swarm-init", [node.ip, MGMT])).changed).toBe(false);
  plain.cleanup();
});
