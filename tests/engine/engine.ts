/**
 * Helpers for tests that drive the real Pulumi engine (the `pulumi` CLI installed by
 * scripts/install-pulumi.sh). Every run gets its own file backend in a temp dir, so the
 * tests never touch a developer's state or the checkout.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** Directories searched for `pulumi` and its language hosts, in order. */
export function engineBinDirs(): string[] {
  const dirs = [process.env.PULUMI_INSTALL_BIN, path.join(os.homedir(), ".pulumi", "bin")];
  return [...dirs.filter((d): d is string => !!d), ...(process.env.PATH ?? "").split(path.delimiter)];
}

function findOnPath(name: string): string | undefined {
  for (const dir of engineBinDirs()) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** The environment every engine command runs with: PATH with the engine, no update checks,
 *  no plugin downloads (they would hang on machines without internet). */
export function engineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: engineBinDirs().join(path.delimiter),
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
    ...extra,
  };
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function pulumi(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 20 * 60 * 1000): RunResult {
  const r = spawnSync("pulumi", args, { cwd, env, encoding: "utf8", timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: (r.stderr ?? "") + (r.error ? `\n${r.error.message}` : "") };
}

/** Versions pinned in package.json, e.g. { pulumi: "3.248.0", openstack: "3.15.2", ... }. */
export function sdkVersions(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const out: Record<string, string> = {};
  for (const [name, version] of Object.entries(pkg.dependencies ?? {})) {
    if (name.startsWith("@pulumi/")) out[name.slice("@pulumi/".length)] = version.replace(/^[~^=v]/, "");
  }
  return out;
}

/**
 * Why the engine cannot run `language` programs that use `plugins` here, or undefined when
 * it can. Checks the CLI, the language host and each resource plugin at the pinned version.
 */
export function engineProblem(language: "nodejs", plugins: string[]): string | undefined {
  if (!findOnPath("pulumi")) return "the pulumi CLI is not installed (run scripts/install-pulumi.sh)";
  const env = engineEnv();
  const version = pulumi(["version"], repoRoot, env, 60_000);
  if (version.status !== 0) return `\`pulumi version\` failed: ${version.stderr.trim()}`;
  if (!findOnPath(`pulumi-language-${language}`)) return `pulumi-language-${language} is not installed`;
  if (plugins.length === 0) return undefined;
  const ls = pulumi(["plugin", "ls", "--json"], repoRoot, env, 60_000);
  if (ls.status !== 0) return `\`pulumi plugin ls\` failed: ${ls.stderr.trim()}`;
  const installed = (JSON.parse(ls.stdout || "[]") as { name: string; kind: string; version: string }[]).filter(
    (p) => p.kind === "resource",
  );
  const versions = sdkVersions();
  const missing = plugins.filter((name) => !installed.some((p) => p.name === name && p.version === versions[name]));
  return missing.length ? `resource plugins not installed: ${missing.map((m) => `${m} ${versions[m]}`).join(", ")}` : undefined;
}

/** A copy of the project in a fresh temp dir (node_modules linked, not copied; a git checkout of
 *  its own), so that `pulumi stack init` may write its encryption salt without touching the checkout. */
export function copyProject(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // .local: image tarballs and caches (gigabytes, not the project): tests make what they need.
  const skip = new Set(["node_modules", ".git", ".venv", ".pulumi", ".pulumi-state", "coverage", "bin", "dist", ".local"]);
  fs.cpSync(repoRoot, dir, {
    recursive: true,
    filter: (src) => !skip.has(path.basename(src)),
  });
  fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
  // The program bundles what git tracks: the copy is a checkout of its own.
  spawnSync("git", ["init", "-q", dir]);
  spawnSync("git", ["-C", dir, "add", "-A"]);
  return dir;
}

/** The resource type of a URN: the last element of its type chain. */
export function urnType(urn: string): string {
  const parts = urn.split("::");
  const chain = parts[2] ?? "";
  return chain.split("$").pop() ?? chain;
}

/** Planned steps of `pulumi preview --json`, counted per resource type. Providers and the
 *  stack itself are left out: they are engine bookkeeping, not the program's resources. */
export function countPlannedTypes(previewJson: { steps?: { op: string; urn: string }[] }): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const step of previewJson.steps ?? []) {
    const type = urnType(step.urn);
    if (type.startsWith("pulumi:providers:") || type === "pulumi:pulumi:Stack") continue;
    if (step.op === "delete" || step.op === "discard") continue;
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** Fails the suite at once, naming what is missing, when the engine cannot run here. */
export function requireEngine(plugins: string[]): void {
  const problem = engineProblem("nodejs", plugins);
  if (problem) throw new Error(`the Pulumi engine is required (bash scripts/install-pulumi.sh --archives ../shared/engine): ${problem}`);
}
