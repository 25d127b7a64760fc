/**
 * Open-loop constant-rate load generator (wrk2-style, coordinated-omission safe).
 *
 * Request i is due at t0 + i/rate. It is handed to a keep-alive agent of `connections` sockets
 * at its due time; if every socket is busy it waits in the agent's queue. Latency is measured
 * from the due time, not from when a socket became free, so a stalled server is charged for
 * every request it delayed (closed-loop tools like autocannon without -R stop sending during a
 * stall and so under-report the tail).
 */
import { Agent, request } from 'node:http';

export interface OpenLoopOptions {
  readonly url: string;
  readonly body: string;
  readonly connections: number;
  /** requests per second, all connections together */
  readonly rate: number;
  readonly durationS: number;
  /** per-request timeout (counted as an error) */
  readonly timeoutMs?: number;
}

export interface OpenLoopResult {
  readonly rate: number;
  readonly connections: number;
  readonly sent: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  /** completed requests per second over the run */
  readonly achieved: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length - 1e-9) - 1))];
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const u = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
  const total = Math.max(1, Math.round(o.rate * o.durationS));
  const lat = new Float64Array(total);
  let done = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const body = Buffer.from(o.body);
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
  const t0 = nowMs() + 5;
  const interval = 1000 / o.rate;
  let next = 0;
  let finish!: () => void;
  const allDone = new Promise<void>((r) => { finish = r; });
  const complete = (due: number, good: boolean, status: number) => {
    lat[done++] = nowMs() - due;
    if (!good) errors++;
    else if (status >= 200 && status < 300) ok++;
    else non2xx++;
    if (done === total) finish();
  };
  const fire = (due: number) => {
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent, headers, timeout: o.timeoutMs ?? 10000 }, (res) => {
      res.resume();
      res.on('end', () => complete(due, true, res.statusCode ?? 0));
      res.on('error', () => complete(due, false, 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => complete(due, false, 0));
    req.end(body);
  };
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowMs();
      while (next < total && t0 + next * interval <= now) fire(t0 + interval * next++);
      if (next < total) setTimeout(tick, Math.max(0, Math.min(1, t0 + next * interval - nowMs())));
      else resolve();
    };
    setTimeout(tick, 5);
  });
  await Promise.race([allDone, new Promise((r) => setTimeout(r, (o.timeoutMs ?? 10000) + 2000))]);
  const elapsed = (nowMs() - t0) / 1000;
  agent.destroy();
  const sorted = lat.slice(0, done).sort();
  return {
    rate: o.rate, connections: o.connections, sent: next, ok, non2xx, errors: errors + (total - done), achieved: done / elapsed,
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: sorted[sorted.length - 1] ?? NaN,
  };
}
