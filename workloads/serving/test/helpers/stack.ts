/** Real-server test harness: private RabbitMQ + Redis, a model dir, API/worker child processes. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import amqplib from 'amqplib';
import Redis from 'ioredis';
import { LocalRabbit, LocalRedis, freePort } from '../../src/devtools/local-servers';

export const ROOT = resolve(__dirname, '..', '..');
export const MAIN = join(ROOT, 'dist', 'main.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures', 'models');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Proc {
  readonly role: 'api' | 'worker';
  readonly port: number;
  readonly child: ChildProcess;
  readonly url: string;
  logs(): string;
  exited: Promise<number | null>;
}

/** A model dir like production: versions/<v>/ + relative symlink `current`. */
export class ModelDir {
  readonly dir: string;
  constructor(versions: string[] = ['v1', 'v2'], current = 'v1') {
    this.dir = mkdtempSync(join(tmpdir(), 'rs-models-'));
    mkdirSync(join(this.dir, 'versions'));
    for (const v of versions) cpSync(join(FIXTURES, v), join(this.dir, 'versions', v), { recursive: true });
    symlinkSync(`versions/${current}`, join(this.dir, 'current'));
  }
  /** Atomic switch like the post-receive hook: new symlink renamed over `current`. */
  switchTo(v: string): void {
    const tmp = join(this.dir, `.current-${process.pid}-${Date.now()}`);
    symlinkSync(`versions/${v}`, tmp);
    renameSync(tmp, join(this.dir, 'current'));
  }
  /**
   * What the production post-receive hook does after the gate accepted `v`: switch `current`
   * and append the history line, with the hooks' own writer (history_append in
   * scripts/promotion/hooks/promotion-lib.sh; `gate` = the gate's --result JSON).
   */
  promote(v: string, kind: 'promote' | 'rollback', commit: string, gate: unknown): void {
    const previous = this.live();
    this.switchTo(v);
    const result = join(this.dir, `.gate-${Date.now()}.json`);
    writeFileSync(result, JSON.stringify(gate));
    const lib = join(ROOT, '..', '..', 'scripts', 'promotion', 'hooks', 'promotion-lib.sh');
    execFileSync('bash', ['-c', `. "$1" && shift && history_append "$@"`, 'promote', lib, this.dir, v, kind, previous, commit, result], {
      env: { ...process.env, GATE_PYTHON: 'python3', GIT_DIR: this.dir },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    rmSync(result);
  }
  live(): string {
    try {
      return readlinkSync(join(this.dir, 'current')).split('/').pop() as string;
    } catch {
      return '';
    }
  }
  remove(v: string): void {
    rmSync(join(this.dir, 'versions', v), { recursive: true, force: true });
  }
  destroy(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class Stack {
  rabbit!: LocalRabbit;
  redis!: LocalRedis;
  models!: ModelDir;
  private readonly procs: Proc[] = [];
  private secretDir = mkdtempSync(join(tmpdir(), 'rs-secrets-'));
  amqpPasswordFile = join(this.secretDir, 'amqp-password');

  static async start(): Promise<Stack> {
    const s = new Stack();
    writeFileSync(s.amqpPasswordFile, 'guest\n', { mode: 0o600 });
    s.models = new ModelDir();
    [s.rabbit, s.redis] = await Promise.all([LocalRabbit.start(), LocalRedis.start()]);
    return s;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      AMQP_URL: this.rabbit.url,
      AMQP_USER: 'guest',
      AMQP_PASSWORD_FILE: this.amqpPasswordFile,
      REDIS_URL: `redis://127.0.0.1:${this.redis.port}`,
      REDIS_PASSWORD_FILE: this.redis.passwordFile,
      MODEL_DIR: this.models.dir,
      MODEL_POLL_MS: '200',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ...extra,
    };
  }

  async spawn(role: 'api' | 'worker', extra: Record<string, string> = {}, waitReady = true): Promise<Proc> {
    const port = await freePort();
    const child = spawn(process.execPath, [MAIN, role], { env: this.env({ PORT: String(port), ...extra }), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.length > 2e6) out = out.slice(-1e6); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const p: Proc = { role, port, child, url: `http://127.0.0.1:${port}`, logs: () => out, exited };
    this.procs.push(p);
    if (waitReady) await waitFor(async () => (await fetch(`${p.url}/readyz`).catch(() => undefined))?.status === 200, 60000, `${role} ready\n${out}`);
    return p;
  }

  async redisClient(): Promise<Redis> {
    const r = new Redis({ host: '127.0.0.1', port: this.redis.port, password: this.redis.password, maxRetriesPerRequest: 3 });
    r.on('error', () => undefined);
    return r;
  }

  async amqp(): Promise<amqplib.ChannelModel> {
    return amqplib.connect(`amqp://guest:guest@127.0.0.1:${this.rabbit.port}`);
  }

  async stopAll(): Promise<void> {
    for (const p of this.procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(this.procs.map((p) => p.exited));
    this.procs.length = 0;
  }

  async destroy(): Promise<void> {
    await this.stopAll();
    await Promise.all([this.rabbit?.destroy(), this.redis?.destroy()]);
    this.models?.destroy();
    rmSync(this.secretDir, { recursive: true, force: true });
  }
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

export const SAMPLE = { age: 59, sex: 2, bmi: 32.1, bp: 101, s1: 157, s2: 93.2, s3: 38, s4: 4, s5: 4.8598, s6: 87 };

export function sample(i: number): Record<string, number> {
  return { ...SAMPLE, age: 20 + (i % 55), bmi: 19 + (i % 20) };
}

export interface HttpResult { status: number; body: any; ms: number; contentType: string }

export async function http(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  const t0 = Date.now();
  const init: RequestInit = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? (body as string) : JSON.stringify(body);
    if (!('content-type' in headers)) (init.headers as Record<string, string>)['content-type'] = 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let parsed: unknown = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: parsed, ms: Date.now() - t0, contentType: r.headers.get('content-type') ?? '' };
}

/** Runs `n` jobs with at most `c` in flight. */
export async function pool<T>(n: number, c: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(c, n) }, async () => {
    while (next < n) { const i = next++; out[i] = await job(i); }
  }));
  return out;
}

/** Reads final records for ids directly from Redis. */
export async function records(r: Redis, prefix: string, ids: string[]): Promise<any[]> {
  const out: any[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const vals = await r.mget(ids.slice(i, i + 500).map((id) => `${prefix}:task:${id}`));
    for (const v of vals) out.push(v ? JSON.parse(v) : null);
  }
  return out;
}
