/**
 * Node containers for the host-script integration tests (and for anything else that
 * needs a VM-like host on this machine): `rayswarm/node:dev` (images/node) run with
 * systemd as PID 1 and its own Docker engine, using the flags that work here
 * (ARCHITECTURE.md: no --privileged). Everything a fleet creates carries the label
 * `rayswarm.test=<suite>` and is removed by `cleanup()`, also leftovers of a killed run.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { nodeRunFlags } from "../../../components/core/node-container";
import { BundleFile, REMOTE_CURRENT, REMOTE_ROOT, bundleInstaller, hashOf, readBundle, stdinInstaller } from "../../../components/remote";

export const REPO = path.resolve(__dirname, "../../..");
export const CACHE = process.env.RAYSWARM_CACHE ?? "/var/cache/rayswarm";
export const NODE_IMAGE = process.env.RAYSWARM_NODE_IMAGE ?? "rayswarm/node:dev";
export const TINY_IMAGE = "rayswarm/tiny:dev";
/** Where the program's bundle puts scripts/host on a host (components/remote.ts): the tests call them there. */
export const REMOTE_SCRIPTS = `${REMOTE_CURRENT}/host`;

let bundle: { files: BundleFile[]; hash: string } | undefined;
/** The program's bundle of this checkout (read once). */
function programBundle(): { files: BundleFile[]; hash: string } {
  if (!bundle) {
    const files = readBundle(REPO);
    bundle = { files, hash: hashOf(files) };
  }
  return bundle;
}

/**
 * `docker run` flags that make a node container behave like a VM: the local environment's
 * (components/core/node-container.ts, which stacks/local.ts gives its docker.Container).
 */
export const NODE_RUN_FLAGS: readonly string[] = nodeRunFlags();

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to completion (async, so several can run in parallel). */
export function run(cmd: string, args: readonly string[], input?: string, timeoutMs = 15 * 60_000): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** Run synchronously; throws with stderr unless it exits 0. */
export function must(cmd: string, args: readonly string[], input?: string): string {
  const r = spawnSync(cmd, args, { input: input ?? "", encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  }
  return r.stdout;
}

export function imageExists(tag: string): boolean {
  return spawnSync("docker", ["image", "inspect", tag], { stdio: "ignore" }).status === 0;
}

/** Make sure dockerd runs and the images exist (builds them once; cached after). */
export function ensureImages(): void {
  const script = (name: string, ...args: string[]) => must("bash", [path.join(REPO, "scripts", "images", name), ...args]);
  script("start-dockerd.sh");
  if (!imageExists(NODE_IMAGE) || !imageExists(TINY_IMAGE)) {
    script("base-image.sh");
    script("build-images.sh", "node", "tiny");
  }
}

/** Output of a host script: the reserved stdout lines and the final changed= line. */
export interface ScriptResult extends Run {
  /** The value of the last stdout line `changed=true|false`. */
  changed: boolean;
  /** stdout lines before the changed line. */
  output: string[];
}

export function parseScript(r: Run, what: string): ScriptResult {
  const lines = r.stdout.replace(/\n$/, "").split("\n");
  const last = lines[lines.length - 1] ?? "";
  const m = /^changed=(true|false)$/.exec(last);
  if (r.code !== 0 || !m) {
    throw new Error(`${what} failed (exit ${r.code}); last stdout line '${last}'\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  }
  return { ...r, changed: m[1] === "true", output: lines.slice(0, -1) };
}

export class Node {
  constructor(
    readonly name: string,
    readonly ip: string,
  ) {}

  /** `docker exec -i` a command in the node (env: extra environment variables). */
  exec(args: readonly string[], input?: string, env: Record<string, string> = {}): Promise<Run> {
    const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
    return run("docker", ["exec", "-i", ...envArgs, this.name, ...args], input);
  }

  async mustExec(args: readonly string[], input?: string): Promise<string> {
    const r = await this.exec(args, input);
    if (r.code !== 0) throw new Error(`${this.name}: ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /**
   * Install the bundle as the program does (components/runner.ts installBundles): the same
   * command line, fed the same installer on stdin; scripts/host lands in /opt/rayswarm/current/host.
   */
  async installBundle(): Promise<void> {
    const { files, hash } = programBundle();
    await this.mustExec(["sh", "-c", stdinInstaller(`${REMOTE_ROOT}/bundles`)], bundleInstaller(files, hash));
  }

  /** Run `bash /opt/rayswarm/current/host/<script>.sh args` as root; parse its output. */
  async script(script: string, args: readonly string[] = [], input?: string, env: Record<string, string> = {}): Promise<ScriptResult> {
    const r = await this.exec(["bash", `${REMOTE_SCRIPTS}/${script}.sh`, ...args], input, env);
    return parseScript(r, `${this.name}: ${script}.sh ${args.join(" ")}`);
  }

  /** Like script() but expects failure; returns the run. */
  async scriptFails(script: string, args: readonly string[] = [], input?: string): Promise<Run> {
    const r = await this.exec(["bash", `${REMOTE_SCRIPTS}/${script}.sh`, ...args], input);
    if (r.code === 0) throw new Error(`${this.name}: ${script}.sh unexpectedly succeeded:\n${r.stdout}`);
    return r;
  }

  /** Load a host image into the node's own engine (`docker save | docker load`). */
  async loadImage(tag: string): Promise<void> {
    const r = await run("bash", ["-o", "pipefail", "-c", `docker save ${tag} | docker exec -i ${this.name} docker load -q`]);
    if (r.code !== 0) throw new Error(`loading ${tag} into ${this.name}: ${r.stderr}`);
  }
}

/**
 * Extra CA certificates to trust inside nodes (a TLS-intercepting proxy's CA, as on
 * this machine): the folder is mounted read-only at /usr/local/share/ca-certificates
 * and the image's rayswarm-ca-certificates.service runs update-ca-certificates at boot.
 */
export const EXTRA_CA_DIR = process.env.RAYSWARM_EXTRA_CA_DIR ?? "/usr/local/share/ca-certificates";

function hasCerts(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((f) => f.endsWith(".crt"));
  } catch {
    return false;
  }
}

export interface StartOptions {
  /** Run `sleep infinity` as PID 1 instead of systemd (tests the scripts' fallbacks). */
  noSystemd?: boolean;
  /** Mount ${RAYSWARM_CACHE}/pip as root's pip cache. */
  pipCache?: boolean;
  /** Public key(s) for root and the `rayswarm` user (SSH_AUTHORIZED_KEYS). */
  authorizedKeys?: string;
}

/**
 * The `docker run` arguments (without `-d` and the image) for one node container:
 * name = hostname, network, cleanup label, NODE_RUN_FLAGS, a labelled volume
 * `<name>-docker` for /var/lib/docker, extra CAs, pip cache, SSH key (env).
 */
export function nodeRunArgs(name: string, network: string, label: string, opts: StartOptions = {}): string[] {
  const args = [
    "--name",
    name,
    "--hostname",
    name,
    "--label",
    label,
    "--network",
    network,
    ...NODE_RUN_FLAGS,
    "--mount",
    `type=volume,src=${name}-docker,dst=/var/lib/docker,volume-label=${label}`,
  ];
  if (hasCerts(EXTRA_CA_DIR)) args.push("-v", `${EXTRA_CA_DIR}:/usr/local/share/ca-certificates:ro`);
  if (opts.pipCache) args.push("-v", `${path.join(CACHE, "pip")}:/root/.cache/pip`);
  if (opts.authorizedKeys) args.push("-e", `SSH_AUTHORIZED_KEYS=${opts.authorizedKeys}`);
  return args;
}

/** Node containers + their network and volumes, labelled for cleanup. */
export class Fleet {
  readonly network: string;
  readonly label: string;
  readonly nodes: Node[] = [];

  /** @param suite short name, used in container/network names and the cleanup label. */
  constructor(readonly suite: string) {
    this.label = `rayswarm.test=${suite}`;
    this.network = `rs-it-${suite}`;
  }

  async start(names: readonly string[], opts: StartOptions = {}): Promise<Node[]> {
    this.cleanup();
    must("docker", ["network", "create", "--label", this.label, this.network]);
    if (opts.pipCache) fs.mkdirSync(path.join(CACHE, "pip"), { recursive: true });
    const started = await Promise.all(
      names.map(async (short) => {
        const name = `rs-it-${this.suite}-${short}`;
        const args = [
          "run",
          "-d",
          ...nodeRunArgs(name, this.network, this.label, opts),
          // --init: without systemd, tini reaps the orphans of detached daemons.
          ...(opts.noSystemd ? ["--init", "--entrypoint", "sleep", NODE_IMAGE, "infinity"] : [NODE_IMAGE]),
        ];
        const r = await run("docker", args);
        if (r.code !== 0) throw new Error(`docker run ${name}: ${r.stderr}`);
        const ip = must("docker", ["inspect", "-f", `{{(index .NetworkSettings.Networks "${this.network}").IPAddress}}`, name]).trim();
        const node = new Node(name, ip);
        if (!opts.noSystemd) await waitBooted(node);
        await node.installBundle();
        return node;
      }),
    );
    this.nodes.push(...started);
    return started;
  }

  /** Reboot a node (`docker restart`) and wait for systemd to be up again. */
  async restart(node: Node): Promise<void> {
    must("docker", ["restart", "-t", "30", node.name]);
    await waitBooted(node);
  }

  /** Remove this suite's containers (with their anonymous volumes), volumes, network. */
  cleanup(): void {
    const ids = spawnSync("docker", ["ps", "-aq", "--filter", `label=${this.label}`], { encoding: "utf8" }).stdout.trim();
    if (ids) spawnSync("docker", ["rm", "-f", "-v", ...ids.split("\n")], { stdio: "ignore" });
    const vols = spawnSync("docker", ["volume", "ls", "-q", "--filter", `label=${this.label}`], { encoding: "utf8" }).stdout.trim();
    if (vols) spawnSync("docker", ["volume", "rm", "-f", ...vols.split("\n")], { stdio: "ignore" });
    spawnSync("docker", ["network", "rm", this.network], { stdio: "ignore" });
  }
}

/** Wait until systemd in the node reports running (or degraded), bounded. */
export async function waitBooted(node: Node, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const r = await node.exec(["systemctl", "is-system-running"]);
    last = (r.stdout + r.stderr).trim();
    if (last === "running" || last === "degraded") return;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error(`${node.name}: systemd not up after ${timeoutMs / 1000}s (is-system-running: ${last})`);
}

/** A throwaway ed25519 key pair in a temp dir. */
export function sshKeyPair(): { dir: string; privateKey: string; publicKey: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-it-key-"));
  const privateKey = path.join(dir, "id_ed25519");
  must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "rayswarm-it", "-f", privateKey]);
  return { dir, privateKey, publicKey: fs.readFileSync(`${privateKey}.pub`, "utf8").trim() };
}

/** ssh to a node like the Pulumi components do (key only, batch mode). */
export function ssh(node: Node, user: string, privateKey: string, command: string, input?: string): Promise<Run> {
  return run(
    "ssh",
    [
      "-i",
      privateKey,
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "ConnectTimeout=10",
      `${user}@${node.ip}`,
      command,
    ],
    input,
  );
}

/** Step timings, printed at the end of a suite. */
export class Timings {
  private readonly rows: [string, number][] = [];
  private readonly t0 = Date.now();
  async time<T>(step: string, f: () => Promise<T>): Promise<T> {
    const s = Date.now();
    try {
      return await f();
    } finally {
      this.rows.push([step, Date.now() - s]);
    }
  }
  report(title: string): string {
    const lines = this.rows.map(([s, ms]) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${s}`);
    return `${title} (total ${((Date.now() - this.t0) / 1000).toFixed(1)} s)\n${lines.join("\n")}\n`;
  }
}
