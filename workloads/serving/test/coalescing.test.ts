/**
 * Request coalescing against real servers: concurrent requests share one broker message, a worker
 * killed in the middle of such a batch loses nothing and stores nothing twice, and oversized
 * bodies get a readable 413 instead of a connection reset.
 */
import { connect } from 'node:net';
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

/**
 * POSTs `body` like a simple blocking client (Python requests, curl without Expect): sends the
 * whole request in 64 KiB chunks 1 ms apart without reading, then reads the answer. A server
 * that closes while such a client is still writing makes the kernel send a reset, which throws
 * away the answer waiting in the client's receive buffer.
 */
function postThenRead(port: number, body: Buffer): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.pause(); // do not read while writing
    let text = '';
    sock.on('error', (e) => reject(new Error(`connection failed before the answer was read: ${e.message}`)));
    sock.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      if (head < 0) return;
      const len = Number(/content-length: *(\d+)/i.exec(text.slice(0, head))?.[1] ?? -1);
      if (len >= 0 && text.length >= head + 4 + len) {
        sock.destroy();
        resolve({ status: Number(text.slice(9, 12)), json: JSON.parse(text.slice(head + 4, head + 4 + len)) });
      }
    });
    sock.on('end', () => reject(new Error(`connection closed; got only ${JSON.stringify(text.slice(0, 200))}`)));
    sock.write(`POST /v1/predictions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    let off = 0;
    const pump = () => {
      if (sock.destroyed) return;
      if (off >= body.length) { setTimeout(() => sock.resume(), 50); return; }
      const chunk = body.subarray(off, off + 65536);
      off += chunk.length;
      if (sock.write(chunk)) setTimeout(pump, 1);
      else sock.once('drain', () => setTimeout(pump, 1));
    };
    pump();
  });
}

test('oversized requests (5 MB body; a batch far over MAX_BATCH_INSTANCES) get a readable 413, not a reset', async () => {
  const api = await stack.spawn('api', { QUEUE_NAME: 'oversize-test' });
  const big = Buffer.from(JSON.stringify({ features: { ...SAMPLE, pad: 'x'.repeat(5 * 1024 * 1024) } }));
  const huge = Buffer.from(JSON.stringify({ instances: Array.from({ length: 20000 }, (_v, i) => sample(i)) }));
  expect(huge.length).toBeGreaterThan(1_500_000);
  for (const body of [big, huge, big]) {
    const r = await postThenRead(api.port, body);
    expect(r.status).toBe(413);
    expect(r.json.error.code).toBe('body_too_large');
    expect(r.json.error.message).toMatch(/larger than 65536 bytes .*at most 64 instances/);
  }
  // and the API still serves normally afterwards
  expect((await http('GET', `${api.url}/healthz`)).status).toBe(200);
}, 60000);

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
