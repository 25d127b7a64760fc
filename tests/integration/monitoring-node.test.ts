/**
 * scripts/monitoring/node-exporter.sh for real in a node container (rayswarm/node:dev, systemd
 * PID 1: what the local environment's machines are, their root file system on overlay). The
 * package's default filters drop `overlay`, and the operator page's disk column showed "–" for
 * every such machine; the script's filters keep it and still leave out pseudo file systems and
 * the files Docker bind-mounts (/etc/hosts, ...). The real reading then goes through promtool
 * (tools/disk-reading-test.ts): the page's disk expression gives its figure and DiskAlmostFull
 * fires on that file system at 95 %. Needs promtool on this machine (.ci/monitoring.sh installs
 * Debian's prometheus; .ci/run runs it before the integration tests).
 */
import * as os from "os";
import * as fs from "fs";
import * as path from "path";
import { Fleet, Node, REPO, Timings, ensureImages, parseScript } from "./support/nodes";
import { checkReading, parseSeries } from "../../tools/disk-reading-test";
import { MONITORING_ROOT, MONITORING_SCRIPTS, filesInstaller, hashFiles, readMonitoringScripts } from "../../components/monitoring/files";
import { stdinInstaller } from "../../components/remote";

const SCRIPTS = MONITORING_SCRIPTS;
const fleet = new Fleet("monitoring");
const timings = new Timings();
let node: Node;

const nodeExporter = async (n: Node) =>
  parseScript(await n.exec(["bash", `${SCRIPTS}/node-exporter.sh`, n.ip, "9100", "1.5.0"]), `${n.name}: node-exporter.sh`);

beforeAll(async () => {
  await timings.time("images present (build if missing)", async () => ensureImages());
  [node] = await timings.time("start a node container (systemd boot)", () => fleet.start(["node"]));
  // As components/monitoring installs them: the same files and installer, into scripts.d/<hash>, linked from scripts.
  const scripts = readMonitoringScripts(REPO);
  const hash = hashFiles(scripts);
  await node.mustExec(
    ["sh", "-c", stdinInstaller(`${MONITORING_ROOT}/scripts.d`)],
    filesInstaller(scripts, `${MONITORING_ROOT}/scripts.d/${hash}`, MONITORING_SCRIPTS),
  );
});

afterAll(() => {
  fleet.cleanup();
  process.stdout.write(timings.report("monitoring-node timings"));
});

test("node-exporter.sh in a container measures its overlay root; the page and DiskAlmostFull work on the reading", async () => {
  expect((await node.mustExec(["findmnt", "-n", "-o", "FSTYPE", "/"])).trim()).toBe("overlay");
  const first = await timings.time("node-exporter.sh (apt install, start)", () => nodeExporter(node));
  expect(first.changed).toBe(true);
  const again = await timings.time("node-exporter.sh second run", () => nodeExporter(node));
  expect(again.changed).toBe(false);
  expect((await node.mustExec(["systemctl", "is-active", "prometheus-node-exporter.service"])).trim()).toBe("active");

  const metrics = await node.mustExec(["curl", "-fsS", "-m", "10", `http://${node.ip}:9100/metrics`]);
  const size = parseSeries(metrics, "node_filesystem_size_bytes");
  expect(size.find((s) => s.labels.mountpoint === "/")?.labels.fstype).toBe("overlay");
  // The volume a swarm machine keeps Docker's data on is a real file system too.
  expect(size.map((s) => s.labels.mountpoint)).toContain("/var/lib/docker");
  for (const s of size) expect(s.labels.mountpoint).not.toMatch(/^\/(etc\/(hosts|hostname|resolv\.conf)|proc|sys|dev|run)(\/|$)/);

  const out = fs.mkdtempSync(path.join(os.tmpdir(), "rs-it-disk-"));
  const line = checkReading(metrics, out);
  process.stdout.write(`container reading: ${line}\n`);
  expect(line).toMatch(/^disk \/ overlay overlay \d+\.\d %/);
  fs.rmSync(out, { recursive: true, force: true });
});

test("with the package's default filters the same container has no / at all (the bug)", async () => {
  const r = await node.exec([
    "bash",
    "-c",
    `runuser -u prometheus -- prometheus-node-exporter --web.listen-address=${node.ip}:19109 >/tmp/ne-default.log 2>&1 & ` +
      `pid=$!; for i in $(seq 1 30); do curl -fsS -m 2 http://${node.ip}:19109/metrics 2>/dev/null && break; sleep 1; done; kill $pid`,
  ]);
  expect(r.code).toBe(0);
  const size = parseSeries(r.stdout, "node_filesystem_size_bytes");
  expect(size.length).toBeGreaterThan(0);
  expect(size.map((s) => s.labels.mountpoint)).not.toContain("/");
});
