/**
 * The files the monitoring component puts on machines: its scripts (scripts/monitoring plus
 * the scripts/host helpers they use) and the orchestration machine's generated configuration.
 * They are written by a bash program fed on stdin into a folder named by their content hash,
 * so an edit re-runs exactly the steps that use it. The main bundle (components/remote.ts)
 * is not used: the orchestration machine does not get it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, folderWriter, sh } from "../remote";

export const MONITORING_ROOT = "/opt/rayswarm/monitoring";
export const MONITORING_SCRIPTS = `${MONITORING_ROOT}/scripts`;

export interface MonitoringFile {
  /** Path inside the folder, e.g. `prometheus.sh`, `rules/serving.yml`. */
  readonly path: string;
  readonly content: string;
  readonly mode: "0755" | "0644";
}

/** scripts/host files the monitoring scripts use, installed beside them. */
const HOST_HELPERS = ["common.sh", "stack-deploy.sh", "stack-rm.sh", "swarm-secret.sh"];

/** The scripts, in a stable order. */
export function readMonitoringScripts(sourceRoot: string = REPO_ROOT): MonitoringFile[] {
  const dir = path.join(sourceRoot, "scripts/monitoring");
  const own = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".sh"))
    .sort();
  const read = (full: string, name: string): MonitoringFile => ({
    path: name,
    content: fs.readFileSync(full, "utf8"),
    mode: name.endsWith(".sh") && name !== "lib.sh" && name !== "common.sh" ? "0755" : "0644",
  });
  return [...HOST_HELPERS.map((f) => read(path.join(sourceRoot, "scripts/host", f), f)), ...own.map((f) => read(path.join(dir, f), f))];
}

/** Static files of the orchestration machine: alert rules and console pages. */
export function readRulesAndConsoles(sourceRoot: string = REPO_ROOT): MonitoringFile[] {
  const base = path.join(sourceRoot, "components/monitoring");
  const list = (sub: string, ext: string) =>
    fs
      .readdirSync(path.join(base, sub))
      .filter((f) => f.endsWith(ext))
      .sort()
      .map((f) => ({ path: `${sub}/${f}`, content: fs.readFileSync(path.join(base, sub, f), "utf8"), mode: "0644" as const }));
  return [...list("rules", ".yml"), ...list("consoles", ".html")];
}

export function hashFiles(files: readonly MonitoringFile[]): string {
  const h = crypto.createHash("sha256");
  for (const f of files) h.update(f.path).update("\0").update(f.mode).update("\0").update(f.content).update("\0");
  return h.digest("hex").slice(0, 16);
}

/**
 * A bash program that writes `files` into `<dir>` atomically (skipped when complete) and,
 * with `link`, points `<link>` at it. The files hold no secrets.
 */
export function filesInstaller(files: readonly MonitoringFile[], dir: string, link?: string): string {
  const lines = folderWriter(files, dir, "filesInstaller");
  if (link) lines.push(`ln -sfn "$d" ${sh(link)}.tmp && mv -T ${sh(link)}.tmp ${sh(link)}`);
  // Keep the three newest folders beside it.
  lines.push(`{ ls -1dt "$(dirname "$d")"/*/ 2>/dev/null | tail -n +4 | grep -v "^$d/$" || true; } | xargs -r rm -rf`);
  return lines.join("\n") + "\n";
}
