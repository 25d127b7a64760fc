/**
 * The Flask + gunicorn + Celery reference stack (workloads/serving/reference/), started from the
 * Debian packages against the benchmark's own RabbitMQ and Redis, for `--compare`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const REFERENCE_DIR = join(__dirname, '..', '..', 'reference');
const PY = '/usr/bin/python3';

export interface ReferenceStack {
  readonly url: string;
  readonly pids: () => number[];
  stop(): Promise<void>;
}

export interface ReferenceOptions {
  readonly amqpUrl: string; // with credentials
  readonly redisUrl: string; // with credentials
  readonly port: number;
  readonly workDir: string;
  readonly gunicornWorkers: number;
  /** > 1: gthread worker class with this many threads per worker (keep-alive connections) */
  readonly gunicornThreads: number;
  readonly celeryConcurrency: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(cmd, args, { cwd: REFERENCE_DIR, env, stdio: ['ignore', 'ignore', 'inherit'], detached: true });
}

function killGroup(p: ChildProcess, sig: NodeJS.Signals): void {
  if (p.pid !== undefined) try { process.kill(-p.pid, sig); } catch { /* gone */ }
}

export async function startReference(o: ReferenceOptions): Promise<ReferenceStack> {
  for (const f of [PY, '/usr/bin/gunicorn']) if (!existsSync(f)) throw new Error(`${f} missing: apt-get install python3-flask python3-celery gunicorn python3-sklearn python3-redis`);
  const model = join(o.workDir, 'reference-model.pkl');
  await new Promise<void>((resolve, reject) => {
    const t = spawn(PY, [join(REFERENCE_DIR, 'train.py'), model], { stdio: 'inherit' });
    t.once('exit', (c) => (c === 0 ? resolve() : reject(new Error(`reference train.py exited ${c}`))));
  });
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: REFERENCE_DIR, REF_BROKER: o.amqpUrl, REF_BACKEND: o.redisUrl, REF_MODEL: model, REF_QUEUE: 'reference', PYTHONDONTWRITEBYTECODE: '1' };
  const procs = [
    run(PY, ['-m', 'celery', '-A', 'tasks', 'worker', '--pool', 'prefork', '--concurrency', String(o.celeryConcurrency), '--loglevel', 'WARNING', '--without-gossip', '--without-mingle', '--without-heartbeat'], env),
    run('/usr/bin/gunicorn', ['--workers', String(o.gunicornWorkers), ...(o.gunicornThreads > 1 ? ['--worker-class', 'gthread', '--threads', String(o.gunicornThreads)] : []), '--bind', `127.0.0.1:${o.port}`, '--log-level', 'warning', 'app:api'], env),
  ];
  const url = `http://127.0.0.1:${o.port}`;
  const stop = async () => {
    for (const p of procs) killGroup(p, 'SIGTERM');
    await Promise.all(procs.map((p) => new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) return r();
      const t = setTimeout(() => { killGroup(p, 'SIGKILL'); r(); }, 10000);
      p.once('exit', () => { clearTimeout(t); r(); });
    })));
  };
  const deadline = Date.now() + 90000;
  const sample = { age: 59, sex: 2, bmi: 32.1, bp: 101, s1: 157, s2: 93.2, s3: 38, s4: 4, s5: 4.8598, s6: 87 };
  for (;;) {
    if (procs.some((p) => p.exitCode !== null)) { await stop(); throw new Error('reference stack process exited during start'); }
    const r = await fetch(`${url}/v1/predictions?wait=2000`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features: sample }) }).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) { await stop(); throw new Error('reference stack did not answer a prediction within 90 s'); }
    await new Promise((res) => setTimeout(res, 300));
  }
  return { url, pids: () => procs.map((p) => p.pid!).filter(Boolean), stop };
}
