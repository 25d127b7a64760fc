/**
 * scripts/host Ray scripts, for real: two node containers (rayswarm/node:dev, systemd
 * PID 1) as Ray head and worker. ray-install (the tuning workload's pinned
 * requirements.txt; as a file on the head, on stdin on the worker), ray-head,
 * ray-worker, ray-wait (2 nodes); second run changes nothing; both nodes export Prometheus
 * metrics on 8090 (the head counts the nodes); the worker survives a
 * reboot (container restart: the unit is enabled); ray-stop on scale-in/delete.
 *
 * pip: PyPI answers here without cache headers, so pip's HTTP cache stores nothing.
 * The test therefore keeps a wheelhouse per (Ray version, requirements) under
 * ${RAYSWARM_CACHE:-/var/cache/rayswarm}/pip/wheelhouse-<hash> (filled once by
 * `pip download`) and installs from it offline (PIP_NO_INDEX + PIP_FIND_LINKS, which
 * ray-install.sh passes on to pip). Cold: one download + two installs; warm: installs.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { RAY_PORTS, rayStartPortArgs } from "../../components/core/ports";
import { CACHE, Fleet, Node, REPO, Timings, ensureImages, run } from "./support/nodes";

const REQUIREMENTS = process.env.RAYSWARM_RAY_REQUIREMENTS ?? path.join(REPO, "workloads", "tuning", "requirements.txt");
const requirements = fs.existsSync(REQUIREMENTS) ? fs.readFileSync(REQUIREMENTS, "utf8") : "";
const pinned = /^\s*ray(\[[^\]]*\])?\s*==\s*([^\s;#]+)/m.exec(requirements)?.[2];
const RAY_VERSION = process.env.RAYSWARM_RAY_VERSION ?? pinned ?? "2.60.0";
const WHEELHOUSE_NAME = `wheelhouse-${createHash("sha256").update(`${RAY_VERSION}\n${requirements}`).digest("hex").slice(0, 12)}`;
const WHEELHOUSE_HOST = path.join(CACHE, "pip", WHEELHOUSE_NAME);
const WHEELHOUSE = `/root/.cache/pip/${WHEELHOUSE_NAME}`; // same folder, inside the nodes
const OFFLINE = { PIP_NO_INDEX: "1", PIP_FIND_LINKS: WHEELHOUSE };

const fleet = new Fleet("ray");
const plain = new Fleet("ray-nosystemd");
const timings = new Timings();
let head: Node;
let worker: Node;
let headAddr: string;

beforeAll(async () => {
  await timings.time("images present (build if missing)", async () => ensureImages());
  [head, worker] = await timings.time("start 2 node containers (systemd boot)", () => fleet.start(["head", "wkr"], { pipCache: true }));
  headAddr = `${head.ip}:6379`;
  await head.mustExec(["sh", "-c", "cat > /opt/rayswarm/requirements.txt"], requirements);
});

afterAll(() => {
  fleet.cleanup();
  plain.cleanup();
  process.stdout.write(timings.report(`ray-scripts timings (ray ${RAY_VERSION})`));
});

test("ray-install installs Ray + the tuning requirements, then skips", async () => {
  if (!fs.existsSync(path.join(WHEELHOUSE_HOST, ".complete"))) {
    await timings.time("cold: pip download into the wheelhouse", async () => {
      fs.mkdirSync(WHEELHOUSE_HOST, { recursive: true });
      const r = await head.exec([
        "sh",
        "-c",
        `python3 -m venv /root/dl-venv && /root/dl-venv/bin/pip download -q --disable-pip-version-check -d ${WHEELHOUSE} ` +
          `"ray[default]==${RAY_VERSION}" ${requirements ? "-r /opt/rayswarm/requirements.txt" : ""} && touch ${WHEELHOUSE}/.complete`,
      ]);
      if (r.code !== 0) throw new Error(`pip download failed: ${r.stderr}`);
    });
  }

  const [h, w] = await timings.time("ray-install x2 (parallel, from the wheelhouse)", () =>
    Promise.all([
      head.script("ray-install", [RAY_VERSION, "/opt/rayswarm/requirements.txt"], undefined, OFFLINE),
      worker.script("ray-install", [RAY_VERSION, "-"], requirements, OFFLINE),
    ]),
  );
  expect([h.changed, w.changed]).toEqual([true, true]);
  expect(h.output).toEqual([]);
  expect(h.stderr).toMatch(new RegExp(`rayswarm\\[rs-it-ray-head\\] ray-install: installed ray ${RAY_VERSION.replace(/\./g, "\\.")}`));

  const again = await timings.time("ray-install second run", () =>
    Promise.all([
      head.script("ray-install", [RAY_VERSION, "/opt/rayswarm/requirements.txt"]),
      worker.script("ray-install", [RAY_VERSION, "-"], requirements),
    ]),
  );
  expect(again.map((r) => r.changed)).toEqual([false, false]);
  const version = await head.mustExec(["/opt/rayswarm/venv/bin/python", "-c", "import ray, sklearn, skl2onnx; print(ray.__version__)"]);
  expect(version.trim()).toBe(RAY_VERSION);
});

test("ray-install refuses a Ray version that clashes with the requirements", async () => {
  if (!pinned) return; // requirements without a ray pin: nothing to clash with
  const r = await head.scriptFails("ray-install", ["2.0.0", "/opt/rayswarm/requirements.txt"]);
  expect(r.stderr).toContain(`the requirements pin ray==${pinned} but ray-version is 2.0.0`);
});

test("ray-head + ray-worker form a 2-node cluster; second run changes nothing", async () => {
  const h = await timings.time("ray-head", () =>
    head.script("ray-head", [head.ip, String(RAY_PORTS.gcs), String(RAY_PORTS.dashboard), ...rayStartPortArgs("head")]),
  );
  expect(h.changed).toBe(true);
  const w = await timings.time("ray-worker", () => worker.script("ray-worker", [headAddr, worker.ip, ...rayStartPortArgs("worker")]));
  expect(w.changed).toBe(true);
  const wait = await timings.time("ray-wait 2 nodes", () => head.script("ray-wait", [headAddr, "2", "120"]));
  expect(wait.output).toEqual(["nodes=2"]);
  expect(wait.changed).toBe(false);

  // The dashboard listens on the private address only.
  const listening = await head.mustExec(["ss", "-Hltn"]);
  expect(listening).toContain(`${head.ip}:8265`);
  expect(listening).not.toMatch(/(0\.0\.0\.0|\*|\[::\]):8265\b/);
  expect((await head.mustExec(["systemctl", "is-enabled", "rayswarm-ray.service"])).trim()).toBe("enabled");
  const unit = await worker.mustExec(["systemctl", "cat", "rayswarm-ray.service"]);
  expect(unit).toContain(`ray start --block --address ${headAddr} --node-ip-address ${worker.ip}`);
  // the ports of the one table (components/core/ports.ts), as the security rules allow them
  expect(unit).toContain(`--disable-usage-stats ${rayStartPortArgs("worker").join(" ")}`);
  expect(rayStartPortArgs("worker")).toEqual(expect.arrayContaining(["--min-worker-port", "10002", "--metrics-export-port", "8090"]));

  const again = await timings.time("second run: ray-head, ray-worker, ray-wait", async () => [
    await head.script("ray-head", [head.ip, String(RAY_PORTS.gcs), String(RAY_PORTS.dashboard), ...rayStartPortArgs("head")]),
    await worker.script("ray-worker", [headAddr, worker.ip, ...rayStartPortArgs("worker")]),
    await worker.script("ray-wait", [headAddr, "2", "60"]),
  ]);
  expect(again.map((r) => r.changed)).toEqual([false, false, false]);
  expect(again[2].output).toEqual(["nodes=2"]);
});

// Ray's metrics export (rayStartPortArgs: --metrics-export-port 8090, ray[default]'s metrics
// agent) on both nodes, as the monitoring scrapes it: every node's /metrics, and on the head
// the autoscaler's ray_cluster_active_nodes (one series per node: RayNodesMissing sums them).
test("every Ray node exports Prometheus metrics on 8090; the head counts 2 active nodes", async () => {
  const scrape = async (node: Node) => (await node.exec(["curl", "-fsS", "-m", "5", `http://${node.ip}:8090/metrics`])).stdout;
  const activeNodes = (text: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith("ray_cluster_active_nodes{"))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
  const seen = await timings.time("metrics: both nodes answer, head reports 2 active nodes", async () => {
    const deadline = Date.now() + 120_000;
    let texts: string[] = [];
    while (Date.now() < deadline) {
      texts = await Promise.all([scrape(head), scrape(worker)]);
      if (texts.every((t) => /^ray_node_cpu_count\{/m.test(t)) && activeNodes(texts[0]) === 2) break;
      await new Promise((r) => setTimeout(r, 3000));
    }
    return texts;
  });
  const [h, w] = seen;
  expect(h).toMatch(new RegExp(`^ray_node_cpu_count\\{[^}]*ip="${head.ip.replace(/\./g, "\\.")}"`, "m"));
  expect(w).toMatch(new RegExp(`^ray_node_cpu_count\\{[^}]*ip="${worker.ip.replace(/\./g, "\\.")}"`, "m"));
  expect(activeNodes(h)).toBe(2);
  // Only the head runs the autoscaler monitor: a worker's export has no cluster count.
  expect(activeNodes(w)).toBe(0);
  // Ray binds the export on every address (reporter_agent: address "" unless the node IP is
  // localhost); the cloud's security group is what limits it to the bastion.
  const listening = await worker.mustExec(["ss", "-Hltn"]);
  expect(listening).toMatch(/(0\.0\.0\.0|\*):8090\b/);
});

test("ray-head and ray-worker refuse port options that are not --<name>-port <port> pairs", async () => {
  const none = await head.scriptFails("ray-head", [head.ip, String(RAY_PORTS.gcs), String(RAY_PORTS.dashboard)]);
  expect(none.stderr).toMatch(/usage: ray-head\.sh <bind-addr> <port> <dashboard-port> <ray start port options\.\.\.>/);
  const bad = await worker.scriptFails("ray-worker", [headAddr, worker.ip, "--node-manager-port", "70000"]);
  expect(bad.stderr).toMatch(/ray-worker: ERROR: --node-manager-port '70000' is not a port/);
  const flag = await worker.scriptFails("ray-worker", [headAddr, worker.ip, "--block", "1"]);
  expect(flag.stderr).toMatch(/ray-worker: ERROR: '--block' is not a ray start port option/);
});

test("ray-wait fails naming the count it saw", async () => {
  const r = await head.scriptFails("ray-wait", [headAddr, "3", "5"]);
  expect(r.stderr).toMatch(/has 2 alive nodes after 5s, expected 3/);
});

test("the worker rejoins after a reboot (enabled unit)", async () => {
  await timings.time("reboot worker container + rejoin", async () => {
    const ipBefore = worker.ip;
    await fleet.restart(worker);
    const ipAfter = (await worker.mustExec(["hostname", "-I"])).trim().split(/\s+/);
    expect(ipAfter).toContain(ipBefore); // a VM keeps its private address; so must the container
    const wait = await head.script("ray-wait", [headAddr, "2", "180"]);
    expect(wait.output).toEqual(["nodes=2"]);
  });
});

test("ray-stop removes the unit (scale-in), idempotently", async () => {
  const stop = await timings.time("ray-stop (worker)", () => worker.script("ray-stop"));
  expect(stop.changed).toBe(true);
  expect((await worker.script("ray-stop")).changed).toBe(false);
  expect((await worker.exec(["test", "-e", "/etc/systemd/system/rayswarm-ray.service"])).code).not.toBe(0);
  const wait = await timings.time("ray-wait 1 node after scale-in", () => head.script("ray-wait", [headAddr, "1", "120"]));
  expect(wait.output).toEqual(["nodes=1"]);
  expect((await timings.time("ray-stop (head)", () => head.script("ray-stop"))).changed).toBe(true);
  expect((await head.script("ray-stop")).changed).toBe(false);
  expect((await head.exec(["pgrep", "-f", "gcs_server"])).code).not.toBe(0);
});

test("without systemd (plain container) ray-head falls back to a detached process", async () => {
  const [node] = await plain.start(["plain"], { noSystemd: true });
  // Same image and Python: the head's venv (installed above) is copied instead of reinstalled.
  await timings.time("copy the venv into a plain container", async () => {
    const r = await run("bash", [
      "-o",
      "pipefail",
      "-c",
      `docker exec ${head.name} tar -C / -cf - opt/rayswarm/venv | docker exec -i ${node.name} tar -C / -xf -`,
    ]);
    if (r.code !== 0) throw new Error(`copying the venv: ${r.stderr}`);
  });
  const addr = `${node.ip}:6379`;
  const first = await timings.time("ray-head without systemd", () =>
    node.script("ray-head", [node.ip, String(RAY_PORTS.gcs), String(RAY_PORTS.dashboard), ...rayStartPortArgs("head")]),
  );
  expect(first.changed).toBe(true);
  expect(first.stderr).toMatch(/no systemd: \(re\)starting Ray head detached/);
  expect(
    (await node.script("ray-head", [node.ip, String(RAY_PORTS.gcs), String(RAY_PORTS.dashboard), ...rayStartPortArgs("head")])).changed,
  ).toBe(false);
  expect((await node.script("ray-wait", [addr, "1", "60"])).output).toEqual(["nodes=1"]);
  expect((await node.script("ray-stop")).changed).toBe(true);
  expect((await node.script("ray-stop")).changed).toBe(false);
  expect((await node.exec(["pgrep", "-f", "/(gcs_server|raylet)( |$)"])).code).not.toBe(0);
  plain.cleanup();
});
