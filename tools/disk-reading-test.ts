/**
 * A promtool test made from a real node exporter reading, for the disk figure of the operator page
 * and the DiskAlmostFull alert (components/monitoring/rules/machines.yml).
 *
 *   ts-node --transpile-only tools/disk-reading-test.ts <metrics-file> <out-dir>
 *
 * <metrics-file> is what a node exporter's /metrics answered (.ci/monitoring.sh: this VM;
 * tests/integration/monitoring-node.test.ts: a node container, root on overlay). The reading must
 * measure `/` and no pseudo or bind-mounted file system. Its filesystem series, labels as scraped
 * plus job="node" and instance="reading", become promtool input series held constant, and
 * <out-dir>/disk-reading.test.yml checks with `promtool test rules`:
 *   - the page's own disk expression (read from consoles/rayswarm.html) gives the reading's figure;
 *   - DiskAlmostFull fires on the real figure exactly when it is above 85 %;
 *   - with the same labels and 95 % used, DiskAlmostFull fires after its 5 minutes, not before.
 * Prints one line: `disk / <fstype> <device> <percent> %; measured: <mountpoints>`. Exits non-zero
 * on a missing `/`, an excluded mount present, or a failing promtool.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as yaml from "js-yaml";

const ROOT = path.resolve(__dirname, "..");
const INSTANCE = "reading";
/** Mounts the node exporter must leave out (node-exporter.sh's filters): pseudo file systems and Docker's bind-mounted files. */
const EXCLUDED_MOUNT = /^\/(dev|proc|run|sys|etc\/(hostname|hosts|resolv\.conf))(\/|$)|^\/var\/lib\/docker\/.+/;
const EXCLUDED_FSTYPE = /^(proc|sysfs|cgroup2?|devpts|mqueue|nsfs|tracefs|debugfs|securityfs|bpf|autofs|fusectl|configfs)$/;

type Series = { labels: Record<string, string>; value: number };

/** `name{a="x",b="y"} value` lines of a Prometheus text exposition (labels without escapes, as the exporter's are). */
export function parseSeries(text: string, name: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[l[1]] = l[2];
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

const selector = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`;

/** The operator page's disk `/` expression for one instance (the template's printf, unescaped). */
export function consoleDiskExpr(instance: string): string {
  const page = fs.readFileSync(path.join(ROOT, "components/monitoring/consoles/rayswarm.html"), "utf8");
  const m = /printf "(max\(100 \* \(1 - node_filesystem_avail_bytes.*?)" \$i \$i \| query/.exec(page);
  if (!m) throw new Error("consoles/rayswarm.html: the disk / expression was not found");
  return m[1].replace(/\\"/g, '"').replace(/%s/g, instance);
}

/** Checks a reading (the exposition text) as described above; returns the summary line. */
export function checkReading(text: string, outDir: string): string {
  const size = parseSeries(text, "node_filesystem_size_bytes");
  const avail = parseSeries(text, "node_filesystem_avail_bytes");
  const mounts = size.map((s) => `${s.labels.mountpoint}(${s.labels.fstype})`);
  const bad = size.filter((s) => EXCLUDED_MOUNT.test(s.labels.mountpoint) || EXCLUDED_FSTYPE.test(s.labels.fstype));
  if (bad.length) throw new Error(`the reading measures excluded mounts: ${bad.map((s) => selector("", s.labels)).join(" ")}`);
  const rootSize = size.find((s) => s.labels.mountpoint === "/");
  const rootAvail = avail.find((s) => s.labels.mountpoint === "/");
  if (!rootSize || !rootAvail) throw new Error(`the reading has no filesystem series of / (measured: ${mounts.join(" ") || "none"})`);
  const labels: Record<string, string> = { ...rootSize.labels, job: "node", instance: INSTANCE };
  const percent = 100 * (1 - rootAvail.value / rootSize.value);
  const hold = (v: number) => `${v}x10`;
  const input = (availBytes: number) => [
    { series: selector("node_filesystem_size_bytes", labels), values: hold(rootSize.value) },
    { series: selector("node_filesystem_avail_bytes", labels), values: hold(availBytes) },
  ];
  const alert = (value: number) => ({
    exp_labels: { severity: "warning", ...labels },
    exp_annotations: {
      summary: `Disk / on ${INSTANCE} is ${value.toFixed(0)}% full`,
      description: `More than 85 % of / (${labels.device}) is used on ${INSTANCE}.`,
    },
  });
  const doc = {
    rule_files: [path.join(ROOT, "components/monitoring/rules/machines.yml")],
    evaluation_interval: "1m",
    tests: [
      {
        name: `the real reading (${labels.fstype} on /): the page's figure, and DiskAlmostFull only above 85 %`,
        interval: "1m",
        input_series: input(rootAvail.value),
        promql_expr_test: [{ expr: consoleDiskExpr(INSTANCE), eval_time: "1m", exp_samples: [{ labels: "{}", value: percent }] }],
        alert_rule_test: [{ eval_time: "9m", alertname: "DiskAlmostFull", exp_alerts: percent > 85 ? [alert(percent)] : [] }],
      },
      {
        name: `the same filesystem (${labels.fstype} on /) 95 % full raises DiskAlmostFull after 5m`,
        interval: "1m",
        input_series: input(Math.round(rootSize.value * 0.05)),
        alert_rule_test: [
          { eval_time: "4m", alertname: "DiskAlmostFull", exp_alerts: [] },
          {
            eval_time: "6m",
            alertname: "DiskAlmostFull",
            exp_alerts: [alert(100 * (1 - Math.round(rootSize.value * 0.05) / rootSize.value))],
          },
        ],
      },
    ],
  };
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, "disk-reading.test.yml");
  fs.writeFileSync(file, yaml.dump(doc, { lineWidth: -1, noRefs: true }));
  try {
    execFileSync("promtool", ["test", "rules", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const r = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`promtool test rules ${file} failed: ${r.stdout ?? ""}${r.stderr ?? r.message}`);
  }
  return `disk / ${labels.fstype} ${labels.device} ${percent.toFixed(1)} %; measured: ${mounts.join(" ")}`;
}

if (require.main === module) {
  const [metricsFile, outDir] = process.argv.slice(2);
  if (!metricsFile || !outDir) {
    process.stderr.write("usage: ts-node tools/disk-reading-test.ts <metrics-file> <out-dir>\n");
    process.exit(2);
  }
  try {
    process.stdout.write(checkReading(fs.readFileSync(metricsFile, "utf8"), outDir) + "\n");
  } catch (e) {
    process.stderr.write(`disk-reading-test: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
