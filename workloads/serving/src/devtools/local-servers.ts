/**
 * Private RabbitMQ and Redis instances on free loopback ports, for tests and the benchmark.
 * Uses the Debian packages (`rabbitmq-server`, `redis-server`); needs root (RabbitMQ runs as
 * user `rabbitmq` via runuser). Nothing here touches system-wide services: each instance gets
 * its own node name, ports, data dirs, Erlang cookie and epmd.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function waitExit(p: ChildProcess, ms: number): Promise<boolean> {
  if (p.exitCode !== null || p.signalCode !== null) return true;
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.once('exit', () => { clearTimeout(t); resolve(true); });
  });
}

/** Kills a process group we created (detached child) — never anything else. */
function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  if (p.pid === undefined) return;
  try { process.kill(-p.pid, sig); } catch { /* already gone */ }
}

function uid(user: string): number {
  return Number(execFileSync('id', ['-u', user]).toString().trim());
}

export interface RabbitOptions {
  /** Passed to the broker config; lower values make tests of limits cheaper. */
  readonly extraConfig?: string;
}

export class LocalRabbit {
  private proc?: ChildProcess;
  private epmd?: ChildProcess;
  readonly baseDir: string;
  readonly nodeName: string;

  private constructor(readonly port: number, readonly distPort: number, readonly epmdPort: number, private readonly opts: RabbitOptions) {
    this.baseDir = mkdtempSync(join(tmpdir(), 'rs-rabbit-'));
    this.nodeName = `rsv${port}@localhost`;
    for (const d of ['mnesia', 'log', 'home']) mkdirSync(join(this.baseDir, d), { recursive: true });
    writeFileSync(join(this.baseDir, 'enabled_plugins'), '[].\n');
    writeFileSync(join(this.baseDir, 'rabbitmq.conf'), [
      'disk_free_limit.absolute = 50MB',
      'vm_memory_high_watermark.relative = 0.6',
      'log.console = false',
      'log.file.level = warning',
      opts.extraConfig ?? '',
    ].join('\n') + '\n');
    writeFileSync(join(this.baseDir, 'home', '.erlang.cookie'), randomBytes(20).toString('hex').toUpperCase(), { mode: 0o400 });
    const u = uid('rabbitmq');
    const chownR = (p: string) => execFileSync('chown', ['-R', `${u}:${u}`, p]);
    chownR(this.baseDir);
    chownSync(this.baseDir, u, u);
  }

  static async start(opts: RabbitOptions = {}): Promise<LocalRabbit> {
    const r = new LocalRabbit(await freePort(), await freePort(), await freePort(), opts);
    await r.start();
    return r;
  }

  /** pid of the launcher process (the broker runs in its process tree). */
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** amqp URL without credentials (tests pass the user and a password file like production). */
  get url(): string {
    return `amqp://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 60000): Promise<void> {
    if (!this.epmd || this.epmd.exitCode !== null) {
      this.epmd = spawn('/usr/bin/epmd', ['-port', String(this.epmdPort), '-address', '127.0.0.1'], { stdio: 'ignore', detached: true });
    }
    const env = {
      PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.baseDir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.baseDir, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.baseDir, 'enabled_plugins'),
      RABBITMQ_CONFIG_FILE: join(this.baseDir, 'rabbitmq.conf'),
      RABBITMQ_CONF_ENV_FILE: join(this.baseDir, 'rabbitmq-env.conf'),
      ERL_EPMD_PORT: String(this.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      HOME: join(this.baseDir, 'home'),
    };
    this.proc = spawn('runuser', ['-u', 'rabbitmq', '--', 'env', `HOME=${env.HOME}`, '/usr/lib/rabbitmq/bin/rabbitmq-server'], {
      env, cwd: this.baseDir, stdio: 'ignore', detached: true,
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`rabbitmq-server exited with ${this.proc.exitCode}; logs in ${join(this.baseDir, 'log')}`);
      if (await tcpOpen(this.port)) return;
      await sleep(200);
    }
    throw new Error(`rabbitmq-server not listening on ${this.port} after ${timeoutMs} ms; logs in ${join(this.baseDir, 'log')}`);
  }

  /** Graceful stop (SIGTERM to the broker's process group), SIGKILL after 20 s. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    killGroup(p, 'SIGTERM');
    if (!(await waitExit(p, 20000))) { killGroup(p, 'SIGKILL'); await waitExit(p, 5000); }
    // wait for the port to close so a restart can bind it again
    for (let i = 0; i < 50 && (await tcpOpen(this.port)); i++) await sleep(100);
    this.proc = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stops broker and epmd and removes the data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    if (this.epmd) { killGroup(this.epmd, 'SIGTERM'); await waitExit(this.epmd, 5000); }
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}

export class LocalRedis {
  private proc?: ChildProcess;
  readonly dir: string;
  readonly password: string;
  readonly passwordFile: string;

  private constructor(readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'rs-redis-'));
    this.password = randomBytes(12).toString('hex');
    this.passwordFile = join(this.dir, 'redis-password');
    writeFileSync(this.passwordFile, this.password + '\n', { mode: 0o600 });
  }

  static async start(): Promise<LocalRedis> {
    const r = new LocalRedis(await freePort());
    await r.start();
    return r;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(timeoutMs = 15000): Promise<void> {
    this.proc = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--requirepass', this.password, '--daemonize', 'no', '--loglevel', 'warning',
    ], { stdio: 'ignore', detached: true });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`redis-server exited with ${this.proc.exitCode}`);
      if (await tcpOpen(this.port)) return;
      await sleep(50);
    }
    throw new Error(`redis-server not listening on ${this.port}`);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    killGroup(p, 'SIGTERM');
    if (!(await waitExit(p, 10000))) { killGroup(p, 'SIGKILL'); await waitExit(p, 5000); }
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** CPU seconds (user+system) used so far by a process and all its descendants (Linux /proc). */
export function treeCpuSeconds(rootPid: number): number {
  const tick = 100; // USER_HZ on Linux
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(f[1]);
      cpu.set(Number(d), (Number(f[11]) + Number(f[12])) / tick);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid)!.push(Number(d));
    } catch { /* process went away */ }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const p = stack.pop()!;
    total += cpu.get(p) ?? 0;
    stack.push(...(children.get(p) ?? []));
  }
  return total;
}
