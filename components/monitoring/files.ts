/**
 * The files the monitoring component puts on machines: its scripts (scripts/monitoring plus
 * the scripts/host helpers they use) and the orchestration machine's generated configuration.
 * They are written by a bash program fed on stdin into a folder named by their content hash,
 * so an edit re-runs exactly the steps that use it. Like the main bundle (components/remote.ts),
 * they are the files git tracks (`git ls-files`), so untracked or ignored files and the checkout's
 * path never change a hash. The bundle itself is not used: the orchestration machine does not get it.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT, folderWriter, sh, trackedFiles } from "../remote";

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

/**
 * The files git tracks directly in `dir` (not in its subfolders) ending in `ext`, in git's order:
 * like the main bundle (remote.ts readBundle), what git ignores or does not track and where the
 * checkout lives never reach the files or their hash.
 */
function trackedIn(sourceRoot: string, dir: string, ext: string): string[] {
  return trackedFiles(sourceRoot, dir, "monitoring files")
    .map((f) => f.rel)
    .filter((rel) => !rel.includes("/") && rel.endsWith(ext));
}

/** The scripts, in a stable order: the scripts/host helpers, then the tracked scripts/monitoring/*.sh. */
export function readMonitoringScripts(sourceRoot: string = REPO_ROOT): MonitoringFile[] {
  const hostTracked = new Set(trackedIn(sourceRoot, "scripts/host", ".sh"));
  const missing = HOST_HELPERS.filter((f) => !hostTracked.has(f));
  if (missing.length) throw new Error(`monitoring files: scripts/host/${missing.join(", ")} not tracked by git in ${sourceRoot}`);
  const read = (dir: string, name: string): MonitoringFile => ({
    path: name,
    content: fs.readFileSync(path.join(sourceRoot, dir, name), "utf8"),
    mode: name.endsWith(".sh") && name !== "lib.sh" && name !== "common.sh" ? "0755" : "0644",
  });
  return [
    ...HOST_HELPERS.map((f) => read("scripts/host", f)),
    ...trackedIn(sourceRoot, "scripts/monitoring", ".sh").map((f) => read("scripts/monitoring", f)),
  ];
}

/** Static files of the orchestration machine, as git tracks them: alert rules and console pages (not rules/tests). */
export function readRulesAndConsoles(sourceRoot: string = REPO_ROOT): MonitoringFile[] {
  const list = (sub: string, ext: string) =>
    trackedIn(sourceRoot, `components/monitoring/${sub}`, ext).map((f) => ({
      path: `${sub}/${f}`,
      content: fs.readFileSync(path.join(sourceRoot, "components/monitoring", sub, f), "utf8"),
      mode: "0644" as const,
    }));
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
