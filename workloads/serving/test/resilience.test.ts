/**
 * Failure behaviour against real servers: worker SIGKILL under load, RabbitMQ restart under
 * load, a poison task, a model swap under load, graceful SIGTERM.
 */
import { SAMPLE, Stack, http, pool, records, sample, sleep, waitFor } from './helpers/stack';

const PREFIX = 'rayswarm:serving';
let stack: Stack;
const v1 = require('./fixtures/models/v1/model.json').version as string;
const v2 = require('./fixtures/models/v2/model.json').version as string;

beforeAll(async () => {
  stack = await Stack.start();
}, 120000);

afterAll(async () => {
  await stack?.destroy();
});

afterEach(async () => {
  await stack.stopAll();
});

async function doneCounter(): Promise<number> {
  const r = await stack.redisClient();
  const n = Number((await r.get(`${PREFIX}:stats:done`)) ?? 0);
  r.disconnect();
  return n;
}

/** Waits until every id has a final record; returns the records. */
async function awaitAll(ids: string[], timeoutMs: number): Promise<any[]> {
  const r = await stack.redisClient();
  let recs: any[] = [];
  try {
    await waitFor(async () => {
      recs = await records(r, PREFIX, ids);
      return recs.every((x) => x && x.status !== 'queued');
    }, timeoutMs, `all ${ids.length} tasks final`);
  } finally {
    r.disconnect();
  }
  return recs;
}

test('worker SIGKILLed during a load of 1,500 tasks: every accepted task ends done exactly once', async () => {
  const Q = 'kill-test';
  const api = await stack.spawn('api', { QUEUE_NAME: Q });
  const w1 = await stack.spawn('worker', { QUEUE_NAME: Q, WORKER_PREFETCH: '100', WORKER_BATCH_MAX: '16' });
  await stack.spawn('worker', { QUEUE_NAME: Q, WORKER_PREFETCH: '100', WORKER_BATCH_MAX: '16' });
  const before = await doneCounter();
  const accepted: string[] = [];
  let killed = false;
  const statuses = await pool(1500, 16, async (i) => {
    const r = await http('POST', `${api.url}/v1/predictions`, { features: sample(i) });
    if (r.status === 202) accepted.push(r.body.id);
    if (!killed && accepted.length >= 500) {
      killed = true;
      w1.child.kill('SIGKILL');
      void stack.spawn('worker', { QUEUE_NAME: Q }, false);
    }
    return r.status;
  });
  expect(killed).toBe(true);
  expect(await w1.exited).toBeNull(); // killed by signal
  expect(statuses.filter((s) => s !== 202)).toEqual([]);
  expect(accepted).toHaveLength(1500);
  const recs = await awaitAll(accepted, 90000);
  expect(recs.filter((r) => r.status !== 'done')).toEqual([]);
  expect(new Set(recs.map((r) => r.id)).size).toBe(1500);
  // the Lua store counts first stores only: exactly one `done` per accepted task
  expect((await doneCounter()) - before).toBe(1500);
  // the killed worker really worked on this load before it died, and others finished it
  const byWorker = new Map<string, number>();
  for (const x of recs) byWorker.set(x.worker.split(':').pop(), (byWorker.get(x.worker.split(':').pop()) ?? 0) + 1);
  expect(byWorker.get(String(w1.child.pid))).toBeGreaterThan(0);
  expect(1500 - (byWorker.get(String(w1.child.pid)) ?? 0)).toBeGreaterThan(0);
  const redelivered = recs.filter((r) => r.attempts > 1).length;
  console.log(`kill test: ${redelivered} tasks were redelivered after the SIGKILL`);
}, 240000);

test('poison task: failed after MAX_ATTEMPTS attempts and present in the dead-letter queue', async () => {
  const Q = 'poison-test';
  const api = await stack.spawn('api', { QUEUE_NAME: Q, MAX_ATTEMPTS: '3' });
  const worker = await stack.spawn('worker', { QUEUE_NAME: Q, MAX_ATTEMPTS: '3' });
  // A task the API would never accept (3 values for a 10-feature model) published straight to the queue:
  // onnxruntime rejects the input shape on every attempt.
  const id = '11111111-2222-4333-8444-555555555555';
  const conn = await stack.amqp();
  const ch = await conn.createConfirmChannel();
  const task = { id, kind: 'single', features: ['age', 'sex', 'bmi'], rows: [[1, 2, 3]], enqueuedAt: Date.now() };
  const r = await stack.redisClient();
  await r.set(`${PREFIX}:task:${id}`, JSON.stringify({ id, status: 'queued' }), 'EX', 600);
  ch.sendToQueue(Q, Buffer.from(JSON.stringify({ ...task, features: Object.keys(SAMPLE), rows: [[1, 2, 3]] })), { persistent: true, messageId: id });
  await ch.waitForConfirms();
  // a healthy task published right after it must still succeed
  const ok = await http('POST', `${api.url}/v1/predictions?wait=5000`, { features: SAMPLE });
  expect(ok.body.status).toBe('done');
  let got: any;
  await waitFor(async () => { got = (await http('GET', `${api.url}/v1/predictions/${id}`)).body; return got.status === 'failed'; }, 20000, 'poison task failed');
  expect(got.error).toMatch(/^inference error: .*Got invalid dimensions.* \(after 3 attempts\)$/);
  expect(got.modelVersion).toBe(v1);
  let dead: any;
  await waitFor(async () => { dead = await ch.get(`${Q}.dead`, { noAck: false }); return dead !== false; }, 10000, 'message in the dead-letter queue');
  expect(dead.properties.messageId).toBe(id);
  expect(JSON.parse(dead.content.toString()).id).toBe(id);
  ch.nack(dead, false, true);
  const m = (await http('GET', `${worker.url}/metrics`)).body as string;
  expect(m).toMatch(/serving_tasks_total\{[^}]*outcome="retried"[^}]*\} 2\b/);
  expect(m).toMatch(/serving_tasks_total\{[^}]*outcome="failed"[^}]*\} 1\b/);
  r.disconnect();
  await conn.close();
}, 120000);

test('RabbitMQ restarted during load: 503 while down, no accepted task lost, recovery without restarting processes', async () => {
  const Q = 'restart-test';
  const api = await stack.spawn('api', { QUEUE_NAME: Q, PUBLISH_TIMEOUT_MS: '1500' });
  await stack.spawn('worker', { QUEUE_NAME: Q });
  const accepted: string[] = [];
  const unavailable: number[] = [];
  const other: string[] = [];
  let phase: 'before' | 'down' | 'after' = 'before';
  let acceptedAfter = 0;
  let stop = false;
  const load = pool(1_000_000, 8, async (i) => {
    if (stop) return;
    const r = await http('POST', `${api.url}/v1/predictions`, { features: sample(i) });
    if (r.status === 202) { accepted.push(r.body.id); if (phase === 'after') acceptedAfter++; }
    else if (r.status === 503 && r.body?.error?.code === 'broker_unavailable') unavailable.push(r.ms);
    else other.push(`${r.status} ${JSON.stringify(r.body)}`);
    if (phase !== 'after' && r.status !== 202) await sleep(20);
  });
  await waitFor(() => accepted.length >= 300, 30000, '300 accepted before the restart');
  phase = 'down';
  await stack.rabbit.stop();
  const whileDown = await http('GET', `${api.url}/readyz`);
  expect(whileDown.status).toBe(503);
  expect(whileDown.body.checks.broker).toBe(false);
  await sleep(1000);
  await stack.rabbit.start();
  phase = 'after';
  await waitFor(() => acceptedAfter >= 300, 60000, '300 accepted after the restart');
  stop = true;
  await load;
  expect(other).toEqual([]);
  expect(unavailable.length).toBeGreaterThan(0);
  expect(Math.max(...unavailable)).toBeLessThan(3000);
  expect((await http('GET', `${api.url}/readyz`)).status).toBe(200);
  const recs = await awaitAll(accepted, 90000);
  expect(recs.filter((r) => r.status !== 'done')).toEqual([]);
  console.log(`restart test: ${accepted.length} accepted, ${unavailable.length} answered 503 (max ${Math.max(...unavailable)} ms)`);
}, 240000);

test('model swap during load: zero failed requests, results stamped old then new version', async () => {
  const Q = 'swap-test';
  const api = await stack.spawn('api', { QUEUE_NAME: Q });
  await stack.spawn('worker', { QUEUE_NAME: Q });
  await stack.spawn('worker', { QUEUE_NAME: Q });
  const results: { version: string; t: number }[] = [];
  const bad: string[] = [];
  let stop = false;
  let swappedAt = 0;
  const load = pool(1_000_000, 8, async (i) => {
    if (stop) return;
    const r = await http('POST', `${api.url}/v1/predictions?wait=5000`, { features: sample(i) });
    if (r.status === 200 && r.body.status === 'done') results.push({ version: r.body.modelVersion, t: Date.now() });
    else bad.push(`${r.status} ${JSON.stringify(r.body)}`);
  });
  await waitFor(() => results.length >= 300, 30000, '300 results before the swap');
  stack.models.switchTo('v2');
  swappedAt = Date.now();
  await waitFor(() => results.filter((r) => r.version === v2).length >= 300, 30000, '300 results from v2');
  stack.models.remove('v1'); // old version folders get deleted later: nothing may still read them
  const n = results.length;
  await waitFor(() => results.length >= n + 200 && Date.now() - swappedAt > 3000, 30000, '200 more results after deleting v1, 3 s after the swap');
  stop = true;
  await load;
  expect(bad).toEqual([]);
  expect(new Set(results.map((r) => r.version))).toEqual(new Set([v1, v2]));
  expect(results[0].version).toBe(v1);
  const firstV2 = results.findIndex((r) => r.version === v2);
  expect(results[firstV2].t).toBeGreaterThanOrEqual(swappedAt);
  // after the swap settles (both workers polled), everything is v2
  const settled = results.filter((r) => r.t > swappedAt + 2000);
  expect(settled.length).toBeGreaterThan(0);
  expect(settled.every((r) => r.version === v2)).toBe(true);
  expect((await http('GET', `${api.url}/v1/model`)).body.version).toBe(v2);
}, 180000);

test('SIGTERM: worker finishes in-flight tasks, exits 0, loses nothing', async () => {
  const Q = 'sigterm-test';
  const N = 2000;
  const api = await stack.spawn('api', { QUEUE_NAME: Q });
  const ids = (await pool(N, 16, async (i) => (await http('POST', `${api.url}/v1/predictions`, { features: sample(i) })).body.id)) as string[];
  const before = await doneCounter();
  // one task per ONNX run so the queue takes a while to drain and SIGTERM lands mid-stream
  const w = await stack.spawn('worker', { QUEUE_NAME: Q, WORKER_PREFETCH: '50', WORKER_BATCH_MAX: '1' });
  await waitFor(async () => (await doneCounter()) - before > 100, 20000, 'worker started processing');
  w.child.kill('SIGTERM');
  expect(await w.exited).toBe(0);
  expect(w.logs()).toContain('stopping: cancelling consumers');
  expect(w.logs()).not.toMatch(/"level":50/); // no errors logged during the drain
  const afterStop = (await doneCounter()) - before;
  expect(afterStop).toBeLessThan(N); // it stopped mid-load
  await stack.spawn('worker', { QUEUE_NAME: Q });
  const recs = await awaitAll(ids, 60000);
  expect(recs.filter((r) => r.status !== 'done')).toEqual([]);
  expect((await doneCounter()) - before).toBe(N); // nothing lost, nothing stored twice
  console.log(`sigterm test: ${afterStop} done by the stopped worker, ${N - afterStop} by its successor`);
}, 120000);
