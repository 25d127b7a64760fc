/**
 * The engine-less runner: executes this Pulumi program's own resources for real, in the
 * program's own dependency order, without the Pulumi engine.
 *
 * Why: on machines that reach only package registries the Pulumi CLI builds from Go modules,
 * but the Node.js language host and the resource plugins (command, random, tls, docker,
 * openstack) are not served (docs/engine.md), so `pulumi up` cannot run a TypeScript program
 * there. The runner plugs into the SDK's resource-monitor interface instead (the one
 * `pulumi.runtime.setMocks` exposes) and implements, for real, the resource types that the
 * `existing` environment uses:
 *   command:remote:Command       `create` over SSH (through the bastion), stdin, stdout/stderr
 *   command:remote:CopyToRemote  scp of a file asset
 *   random:index/randomPassword  crypto-random, kept in the runner state (like Pulumi state)
 *   tls:index/privateKey         ed25519 via ssh-keygen, kept in the runner state
 * Ordering comes from the SDK itself: a resource is registered only after the resources it
 * depends on (dependsOn and every input Output) have been. `destroy` replays the program to
 * rebuild the graph and runs each command's `delete` in reverse dependency order.
 *
 * It is not the Pulumi engine: no diffs, no partial updates, no refresh. Every `up` runs every
 * `create` again, which is safe because every script is idempotent and says so
 * (`changed=true|false`); the runner reports how many steps changed something.
 */
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { collectOutputs } from "../mock-run";

export interface RunnerOptions {
  /** Stack name (the program's `pulumi.getStack()`). */
  readonly stack: string;
  /** Config map in `allConfig()` form: "rayswarm:key" -> string. */
  readonly config: Record<string, string>;
  /** Folder for the runner state (generated secrets, 0600) and logs. */
  readonly stateDir: string;
  /** The program: returns its outputs. */
  readonly program: () => unknown;
  /** Line-oriented progress (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface StepResult {
  readonly type: string;
  readonly name: string;
  readonly seconds: number;
  /** `changed=true|false` of the script, when it printed one. */
  readonly changed?: boolean;
}

export interface RunResult {
  readonly outputs: Record<string, unknown>;
  readonly steps: StepResult[];
  readonly seconds: number;
}

interface Connection {
  host: string;
  port?: number;
  user?: string;
  privateKey?: string;
  proxy?: Connection;
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Inputs may arrive with secrets wrapped; unwrap them recursively. */
function plain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] !== undefined && "value" in o) return plain(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

class State {
  private readonly file: string;
  private data: Record<string, Record<string, string>>;
  constructor(dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.file = path.join(dir, "runner-state.json");
    this.data = fs.existsSync(this.file) ? (JSON.parse(fs.readFileSync(this.file, "utf8")) as typeof this.data) : {};
  }
  get(key: string): Record<string, string> | undefined {
    return this.data[key];
  }
  set(key: string, value: Record<string, string>): void {
    this.data[key] = value;
    fs.writeFileSync(this.file, JSON.stringify(this.data, null, 2), { mode: 0o600 });
  }
  clear(): void {
    this.data = {};
    fs.rmSync(this.file, { force: true });
  }
}

function exec(
  cmd: string,
  args: string[],
  input: string | undefined,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
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
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** ssh arguments for a connection (key files written 0600 into a private temp folder). */
class Ssh {
  private dir?: string;
  private readonly keys = new Map<string, string>();

  private keyFile(key: string): string {
    const hit = this.keys.get(key);
    if (hit) return hit;
    this.dir ??= fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-runner-"));
    const file = path.join(this.dir, `key-${this.keys.size}`);
    fs.writeFileSync(file, key.endsWith("\n") ? key : `${key}\n`, { mode: 0o600 });
    this.keys.set(key, file);
    return file;
  }

  private base(c: Connection): string[] {
    const args = [
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "ConnectTimeout=15",
    ];
    args.push("-o", "ServerAliveInterval=15");
    if (c.privateKey) args.push("-i", this.keyFile(c.privateKey), "-o", "IdentitiesOnly=yes");
    return args;
  }

  args(c: Connection, forScp = false): string[] {
    const args = this.base(c);
    if (c.proxy) {
      const p = c.proxy;
      const inner = ["ssh", ...this.base(p), "-p", String(p.port ?? 22), "-W", "%h:%p", `${p.user ?? "root"}@${p.host}`];
      args.push("-o", `ProxyCommand=${inner.map((a) => (/[\s"']/.test(a) ? `'${a}'` : a)).join(" ")}`);
    }
    args.push(forScp ? "-P" : "-p", String(c.port ?? 22));
    return args;
  }

  cleanup(): void {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.keys.clear();
  }
}

interface Recorded {
  type: string;
  name: string;
  resource: pulumi.Resource;
  deps: Set<pulumi.Resource>;
  props: pulumi.Inputs;
  inputs?: Record<string, unknown>;
}

export class Runner {
  private readonly state: State;
  private readonly ssh = new Ssh();
  private readonly log: (line: string) => void;

  constructor(private readonly opts: RunnerOptions) {
    this.state = new State(opts.stateDir);
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  /** Secrets and keys: made once, then read back from the state. */
  private generated(type: string, name: string, inputs: Record<string, unknown>): Record<string, string> {
    const key = `${type}::${name}`;
    const have = this.state.get(key);
    if (have) return have;
    let value: Record<string, string>;
    if (type === "random:index/randomPassword:RandomPassword") {
      const length = Number(inputs.length ?? 32);
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
      const bytes = crypto.randomBytes(length * 2);
      let result = "";
      for (let i = 0; result.length < length; i++) if (bytes[i] < 248) result += alphabet[bytes[i] % alphabet.length];
      value = { result };
    } else {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-key-"));
      try {
        const file = path.join(dir, "id");
        const r = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `rayswarm-${name}`, "-f", file]);
        if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
        value = {
          privateKeyOpenssh: fs.readFileSync(file, "utf8"),
          publicKeyOpenssh: fs.readFileSync(`${file}.pub`, "utf8"),
          privateKeyPem: "",
        };
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    this.state.set(key, value);
    return value;
  }

  private readonly inflight = new Set<Promise<unknown>>();
  /** The first failure: the SDK would only log it and wait forever for the failed resource's outputs. */
  private onFailure: (e: Error) => void = () => undefined;
  private readonly failure = new Promise<never>((_, reject) => {
    this.onFailure = reject;
  });

  private fail(e: Error): never {
    this.log(`  FAILED ${e.message}`);
    this.onFailure(e);
    throw e;
  }

  /** At most this many SSH sessions at once (sshd's MaxStartups drops bursts), retried on connection errors. */
  private slots = 6;
  private readonly waiting: (() => void)[] = [];
  private async session<T extends { code: number; stderr: string }>(what: string, run: () => Promise<T>): Promise<T> {
    while (this.slots === 0) await new Promise<void>((r) => this.waiting.push(r));
    this.slots--;
    try {
      for (let attempt = 1; ; attempt++) {
        const r = await run();
        const connectionError =
          r.code === 255 &&
          /kex_exchange_identification|Connection (reset|closed|refused|timed out)|Connection timed out|No route to host|banner exchange/i.test(
            r.stderr,
          );
        if (!connectionError || attempt >= 6) return r;
        this.log(`  ... ${what}: SSH connection failed (${r.stderr.trim().split("\n")[0]}), retry ${attempt}/5`);
        await new Promise((res) => setTimeout(res, 1000 * 2 ** attempt));
      }
    } finally {
      this.slots++;
      this.waiting.shift()?.();
    }
  }

  private async remote(
    name: string,
    conn: Connection,
    script: string,
    stdin: string | undefined,
  ): Promise<{ stdout: string; stderr: string }> {
    const target = `${conn.user ?? "root"}@${conn.host}`;
    const r = await this.session(name, () => exec("ssh", [...this.ssh.args(conn), target, script], stdin, 60 * 60 * 1000));
    if (r.code !== 0) {
      const tail = r.stderr.trim().split("\n").slice(-25).join("\n");
      this.fail(new Error(`${name} failed on ${conn.host} (exit ${r.code}):\n${tail}`));
    }
    return r;
  }

  /** Runs the program; every resource is created for real as it registers. */
  async up(): Promise<RunResult> {
    try {
      return await this.upInner();
    } finally {
      this.ssh.cleanup();
    }
  }

  private async upInner(): Promise<RunResult> {
    const started = Date.now();
    const steps: StepResult[] = [];
    const outputs = await this.runProgram(async (args) => {
      const inputs = plain(args.inputs) as Record<string, unknown>;
      const t0 = Date.now();
      const done = (extra: Partial<StepResult> = {}) => {
        const s = { type: args.type, name: args.name, seconds: (Date.now() - t0) / 1000, ...extra };
        steps.push(s);
        return s;
      };
      switch (args.type) {
        case "command:remote:Command": {
          const create = inputs.create as string | undefined;
          if (!create) {
            done();
            return { stdout: "", stderr: "" };
          }
          this.log(`  ... ${args.name}`);
          const r = await this.remote(args.name, inputs.connection as Connection, create, inputs.stdin as string | undefined);
          // Like Pulumi state: outputs are kept so that `destroy` can rebuild the same graph.
          this.state.set(`stdout::${args.name}`, { stdout: r.stdout });
          const m = /changed=(true|false)\s*$/.exec(r.stdout);
          const s = done(m ? { changed: m[1] === "true" } : {});
          this.log(`  ok  ${args.name} (${s.seconds.toFixed(1)} s${m ? `, changed=${m[1]}` : ""})`);
          return { stdout: r.stdout, stderr: r.stderr };
        }
        case "command:remote:CopyToRemote": {
          // A FileAsset (its path may be a promise) or its serialized form.
          const sourcePath = await Promise.resolve((args.inputs.source as { path?: string | Promise<string> } | undefined)?.path);
          const source = { path: sourcePath };
          const conn = inputs.connection as Connection;
          if (typeof source.path !== "string") return this.fail(new Error(`${args.name}: only file assets are supported`));
          this.log(`  ... ${args.name} (${(fs.statSync(source.path).size / 1e6).toFixed(0)} MB)`);
          // Like the engine, don't copy again what was copied from the same file unchanged.
          const stat = fs.statSync(source.path);
          const fingerprint = `${source.path}:${stat.size}:${stat.mtimeMs}:${inputs.remotePath}:${conn.host}`;
          if (this.state.get(`copy::${args.name}`)?.fingerprint === fingerprint) {
            done({ changed: false });
            this.log(`  ok  ${args.name} (unchanged, not copied again)`);
            return {};
          }
          const r = await this.session(args.name, () =>
            exec(
              "scp",
              ["-q", ...this.ssh.args(conn, true), String(source.path), `${conn.user ?? "root"}@${conn.host}:${String(inputs.remotePath)}`],
              undefined,
              60 * 60 * 1000,
            ),
          );
          if (r.code !== 0) this.fail(new Error(`${args.name}: scp failed: ${r.stderr}`));
          this.state.set(`copy::${args.name}`, { fingerprint });
          done({ changed: true });
          return {};
        }
        case "random:index/randomPassword:RandomPassword":
        case "tls:index/privateKey:PrivateKey":
          done();
          return this.generated(args.type, args.name, inputs);
        default:
          return this.fail(
            new Error(`the engine-less runner does not implement ${args.type} (${args.name}); use \`pulumi up\` with the real engine`),
          );
      }
    });
    return { outputs, steps, seconds: (Date.now() - started) / 1000 };
  }

  /** Rebuilds the graph (nothing runs), then runs every `delete` in reverse dependency order. */
  async destroy(): Promise<RunResult> {
    try {
      return await this.destroyInner();
    } finally {
      this.ssh.cleanup();
    }
  }

  private async destroyInner(): Promise<RunResult> {
    const started = Date.now();
    const recorded: Recorded[] = [];
    await this.runProgram(async (args) => {
      const inputs = plain(args.inputs) as Record<string, unknown>;
      if (args.type === "random:index/randomPassword:RandomPassword" || args.type === "tls:index/privateKey:PrivateKey") {
        const have = this.state.get(`${args.type}::${args.name}`);
        if (!have)
          throw new Error(`destroy: no state for ${args.name}: was this stack deployed by the runner (state in ${this.opts.stateDir})?`);
        return have;
      }
      void inputs;
      return { stdout: this.state.get(`stdout::${args.name}`)?.stdout ?? "", stderr: "" };
    }, recorded);
    const byResource = new Map(recorded.map((r) => [r.resource, r]));
    const steps: StepResult[] = [];
    const done = new Set<Recorded>();
    // A resource is deleted once everything that depends on it has been deleted.
    const dependents = new Map<Recorded, Recorded[]>();
    for (const r of recorded)
      for (const d of r.deps) {
        const dep = byResource.get(d);
        if (dep) dependents.set(dep, [...(dependents.get(dep) ?? []), r]);
      }
    const pending = new Map<Recorded, Promise<void>>();
    const remove = (r: Recorded): Promise<void> => {
      const hit = pending.get(r);
      if (hit) return hit;
      const p = (async () => {
        await Promise.all((dependents.get(r) ?? []).map(remove));
        const del = r.inputs?.delete as string | undefined;
        if (r.type === "command:remote:Command" && del) {
          const t0 = Date.now();
          this.log(`  ... delete ${r.name}`);
          await this.remote(`delete ${r.name}`, r.inputs!.connection as Connection, del, undefined);
          steps.push({ type: r.type, name: r.name, seconds: (Date.now() - t0) / 1000 });
          this.log(`  ok  delete ${r.name}`);
        }
        done.add(r);
      })();
      pending.set(r, p);
      return p;
    };
    await Promise.all(recorded.map(remove));
    this.state.clear();
    return { outputs: {}, steps, seconds: (Date.now() - started) / 1000 };
  }

  private async runProgram(
    create: (args: pulumi.runtime.MockResourceArgs) => Promise<Record<string, unknown>>,
    record?: Recorded[],
  ): Promise<Record<string, unknown>> {
    await pulumi.runtime.setMocks(
      {
        newResource: async (args) => {
          if (args.custom === false || args.type === "pulumi:pulumi:Stack" || args.type.startsWith("rayswarm:"))
            return { id: "", state: {} };
          const pending = create(args);
          this.inflight.add(pending);
          const state = await pending.finally(() => this.inflight.delete(pending));
          const rec = record?.find((r) => r.type === args.type && r.name === args.name);
          if (rec) rec.inputs = plain(args.inputs) as Record<string, unknown>;
          return {
            id: `${args.name}-${crypto.createHash("sha1").update(args.name).digest("hex").slice(0, 8)}`,
            state: { ...args.inputs, ...state },
          };
        },
        call: (args) => {
          throw new Error(`the engine-less runner does not implement the function ${args.token}`);
        },
      },
      "rayswarm",
      this.opts.stack,
      false,
    );
    const secretKeys = Object.keys(this.opts.config).filter((k) => /PrivateKey$/.test(k));
    pulumi.runtime.setAllConfig(this.opts.config, secretKeys);
    process.env.PULUMI_CONFIG_SECRET_KEYS = JSON.stringify(secretKeys);
    this.failure.catch(() => undefined); // raced below
    let outputs: Record<string, unknown> = {};
    const running = pulumi.runtime.runInPulumiStack(async () => {
      if (record) {
        pulumi.runtime.registerStackTransformation((args) => {
          const deps = new Set<pulumi.Resource>();
          const d = args.opts.dependsOn;
          for (const x of Array.isArray(d) ? d : d ? [d] : []) if (pulumi.Resource.isInstance(x)) deps.add(x);
          record.push({ type: args.type, name: args.name, resource: args.resource, deps, props: args.props });
          return undefined;
        });
      }
      outputs = (this.opts.program() ?? {}) as Record<string, unknown>;
      return outputs as pulumi.Inputs;
    });
    await Promise.race([running, this.failure]);
    const resolved: Record<string, unknown> = {};
    const exported: Record<string, pulumi.Input<unknown>> = outputs as Record<string, pulumi.Input<unknown>>;
    for (const k of Object.keys(exported)) {
      const value = new Promise<unknown>((res) => (pulumi.output(exported[k]) as unknown as pulumi.Output<unknown>).apply((x) => res(x)));
      resolved[k] = await Promise.race([value, this.failure]);
    }
    // Every resource, not only those behind the outputs: wait until nothing is in flight and
    // nothing new registers.
    for (let quiet = 0; quiet < 3;) {
      if (this.inflight.size > 0) {
        quiet = 0;
        await Promise.race([Promise.all([...this.inflight]), this.failure]);
      } else {
        quiet++;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // Implicit dependencies: the resources behind every input Output.
    for (const r of record ?? []) {
      for (const o of collectOutputs(r.props)) {
        const all = await (o as unknown as { allResources?: () => Promise<Set<pulumi.Resource>> }).allResources?.();
        for (const x of all ?? []) if (x !== r.resource) r.deps.add(x);
      }
    }
    return resolved;
  }
}
