/**
 * Running the project's scripts on Hosts.
 *
 * Every host gets one "bundle": scripts/host, scripts/promotion and the tuning workload's
 * sources, installed as root under /opt/rayswarm/bundles/<hash> with /opt/rayswarm/current
 * pointing at it. Commands always call scripts through the stable `current` path; their
 * `triggers` carry the hash of the files they use, so editing a script re-runs exactly the
 * steps that use it. Destructive undo steps (leave the swarm, stop Ray) live on separate
 * "lifecycle" resources whose inputs never change with script edits, so a script edit can
 * never replace (and thereby undo) a running node. Components make their steps through
 * components/runner.ts (HostRunner), which uses what is here.
 */
import * as crypto from "crypto";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";

export const REPO_ROOT = path.resolve(__dirname, "..");
export const REMOTE_ROOT = "/opt/rayswarm";
export const REMOTE_CURRENT = `${REMOTE_ROOT}/current`;

/** What goes into the bundle, relative to the source root. */
export const BUNDLE_DIRS: readonly { from: string; to: string; skip?: RegExp }[] = [
  { from: "scripts/host", to: "host" },
  { from: "scripts/promotion", to: "promotion" },
  { from: "workloads/tuning", to: "tuning", skip: /(^|\/)(\.venv|tests|__pycache__|\.pytest_cache|results|.*\.egg-info)(\/|$)|\.pyc$/ },
];

/** The command line that installs a bundle or folder fed on stdin (bundleInstaller, filesInstaller) as root. */
export function stdinInstaller(folder: string): string {
  return asRoot(`mkdir -p ${folder}`) + " && " + asRoot("bash -s");
}

export interface BundleFile {
  /** Path inside the bundle, e.g. `host/swarm-join.sh`. */
  readonly path: string;
  readonly content: string;
  readonly mode: "0755" | "0644";
}

/**
 * The files git tracks under `dir` (relative to it, in git's byte order) with their index modes.
 * What git ignores (venvs, caches, build output) and where the checkout lives never reach a hash.
 * `who` names the caller in the error (readBundle, the monitoring's files).
 */
export function trackedFiles(sourceRoot: string, dir: string, who = "readBundle"): { rel: string; executable: boolean }[] {
  let out: string;
  try {
    out = execFileSync("git", ["-C", sourceRoot, "ls-files", "-s", "-z", "--", dir], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw new Error(
      `${who}: cannot list the files git tracks in ${sourceRoot} (${(e as Error).message.split("\n")[0]}): the bundle is made from a git checkout`,
    );
  }
  return out
    .split("\0")
    .filter((l) => l)
    .map((l) => {
      const [meta, file] = l.split("\t");
      return { rel: file.slice(dir.length + 1), executable: meta.startsWith("100755") };
    })
    .filter((f) => fs.existsSync(path.join(sourceRoot, dir, f.rel))) // deleted in the work tree, not yet in the index
    .sort((a, b) => Buffer.compare(Buffer.from(a.rel), Buffer.from(b.rel)));
}

/**
 * Reads the bundle's files from a git checkout (the repo by default): the files git tracks,
 * their content as in the work tree, their mode as in the index. Deterministic order.
 */
export function readBundle(sourceRoot: string = REPO_ROOT): BundleFile[] {
  const files: BundleFile[] = [];
  for (const d of BUNDLE_DIRS) {
    for (const { rel, executable } of trackedFiles(sourceRoot, d.from)) {
      if (d.skip?.test(rel)) continue;
      const content = fs.readFileSync(path.join(sourceRoot, d.from, rel), "utf8");
      files.push({ path: `${d.to}/${rel}`, content, mode: executable || rel.endsWith(".sh") ? "0755" : "0644" });
    }
  }
  if (!files.some((f) => f.path === "host/common.sh")) throw new Error(`readBundle: ${sourceRoot}/scripts/host/common.sh is missing`);
  return files;
}

export function hashOf(files: readonly BundleFile[], paths?: readonly string[]): string {
  const h = crypto.createHash("sha256");
  for (const f of files) {
    if (paths && !paths.includes(f.path)) continue;
    h.update(f.path).update("\0").update(f.mode).update("\0").update(f.content).update("\0");
  }
  if (paths) for (const p of paths) if (!files.some((f) => f.path === p)) throw new Error(`hashOf: ${p} is not in the bundle`);
  return h.digest("hex").slice(0, 16);
}

/** Quotes one word for a POSIX shell. */
export function sh(word: string | number): string {
  const s = String(word);
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Runs a command as root: directly when logged in as root, else through passwordless sudo. */
export function asRoot(cmd: string): string {
  return `if [ "$(id -u)" = 0 ]; then ${cmd}; else sudo -n ${cmd}; fi`;
}

/** The command line that runs `<dir>/<script>` from the installed bundle, as root. */
export function scriptCommand(script: string, args: readonly (string | number)[] = [], env: Record<string, string | number> = {}): string {
  const envs = Object.entries(env).map(([k, v]) => `${k}=${sh(v)}`);
  const words = ["env", ...envs, "bash", `${REMOTE_CURRENT}/${script}`, ...args.map(sh)];
  return asRoot(words.join(" "));
}

/**
 * Bash lines that write `files` into the folder `dir` (bound to `$d`) atomically, from heredocs,
 * skipped when the folder is already complete. Shared by every installer fed on stdin.
 */
export function folderWriter(files: readonly { path: string; content: string; mode: string }[], dir: string, who: string): string[] {
  const lines = ["set -euo pipefail", `d=${sh(dir)}`, 'if [ ! -f "$d/.complete" ]; then', '  rm -rf "$d.tmp"; mkdir -p "$d.tmp"'];
  for (const f of files) {
    const marker = `RAYSWARM_EOF_${crypto.createHash("sha1").update(f.content).digest("hex").slice(0, 12)}`;
    if (f.content.includes(marker)) throw new Error(`${who}: ${f.path} contains its own heredoc marker`);
    lines.push(`  mkdir -p "$d.tmp/${path.posix.dirname(f.path)}"`);
    lines.push(`  cat > "$d.tmp/${f.path}" <<'${marker}'`);
    lines.push(f.content.endsWith("\n") ? f.content.slice(0, -1) : f.content);
    lines.push(marker);
    if (!f.content.endsWith("\n")) lines.push(`  truncate -s -1 "$d.tmp/${f.path}"`);
    lines.push(`  chmod ${f.mode} "$d.tmp/${f.path}"`);
  }
  lines.push('  touch "$d.tmp/.complete"; rm -rf "$d"; mv "$d.tmp" "$d"');
  lines.push("fi");
  return lines;
}

/** A bash program (fed on stdin) that writes the bundle and flips `current` atomically. */
export function bundleInstaller(files: readonly BundleFile[], hash: string): string {
  const dir = `${REMOTE_ROOT}/bundles/${hash}`;
  const lines = folderWriter(files, dir, "bundleInstaller");
  lines.push(`ln -sfn "bundles/${hash}" ${REMOTE_ROOT}/current.tmp && mv -T ${REMOTE_ROOT}/current.tmp ${REMOTE_CURRENT}`);
  // Keep the three newest bundles.
  lines.push(`{ ls -1dt ${REMOTE_ROOT}/bundles/*/ 2>/dev/null | tail -n +4 | grep -v "/${hash}/$" || true; } | xargs -r rm -rf`);
  lines.push(`echo "bundle ${hash} installed on $(hostname)" >&2`);
  return lines.join("\n") + "\n";
}

/**
 * A command line that, after `cmd` ends, reads whatever of its stdin `cmd` left unread and then
 * exits with `cmd`'s own status (output and failures untouched).
 *
 * Why: pulumi-command 1.2.1 sends a resource's `stdin` to its create, update *and* delete alike
 * (one `stdin` property; upstream pulumi/pulumi-command#250), from a goroutine that starts after
 * the `exec` request is answered (x/crypto/ssh `Session.Run`). When the remote command exits
 * without reading it (`rm -f …` deleting a monitoring target, a script that finds its secret
 * already there), sshd closes the channel, the write hits the closed channel and `Run` returns a
 * bare `EOF`: the step fails with `EOF: running "…"` although the command succeeded. On an idle
 * machine the few hundred bytes are written first; on a loaded one the goroutine runs late (the
 * e2e's `pulumi destroy` failed so, and tests/integration/ssh-stdin.test.ts reproduces it). The
 * commands run as `-c` of the login shell (bash/sh): newlines keep a trailing comment or heredoc
 * in `cmd` from swallowing the wrapper.
 */
export function drainingStdin(cmd: string): string {
  return `(\n${cmd}\n)\nrayswarm_rc=$?; cat >/dev/null; exit $rayswarm_rc`;
}

function mapCommand(cmd: pulumi.Input<string> | undefined, f: (c: string) => string): pulumi.Input<string> | undefined {
  if (cmd === undefined) return undefined;
  return typeof cmd === "string" ? f(cmd) : pulumi.output(cmd).apply(f);
}

/**
 * Every remote command of the program is made here: the previous run's stdout/stderr are never
 * sent back in the environment (`addPreviousOutputInEnv: false`: they may hold secrets, such as
 * the swarm's join tokens, and sshd refuses the variables anyway); a resource with `stdin` has
 * each of its commands wrapped by drainingStdin, so none ends before the provider has sent it.
 */
export function remoteCommand(name: string, args: command.remote.CommandArgs, opts: pulumi.CustomResourceOptions): command.remote.Command {
  const commands =
    args.stdin === undefined
      ? {}
      : {
          create: mapCommand(args.create, drainingStdin),
          update: mapCommand(args.update, drainingStdin),
          delete: mapCommand(args.delete, drainingStdin),
        };
  return new command.remote.Command(name, { ...args, ...commands, addPreviousOutputInEnv: false }, opts);
}

/**
 * A resource that only undoes: `create` records it, `delete` runs `undo` (from the installed
 * bundle). Its inputs don't depend on script content, so editing scripts never triggers it.
 */
export function lifecycle(
  name: string,
  connection: pulumi.Input<command.types.input.remote.ConnectionArgs>,
  undo: string,
  opts: pulumi.CustomResourceOptions,
): command.remote.Command {
  return remoteCommand(name, { connection, create: "true", delete: undo }, opts);
}
