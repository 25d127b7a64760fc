import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE, Stack, http, sleep, waitFor, type Proc } from './helpers/stack';

const PREFIX = 'rayswarm:serving';
let stack: Stack;
let api: Proc;

beforeAll(async () => {
  stack = await Stack.start();
  api = await stack.spawn('api', { QUEUE_NAME: 'api-test' });
}, 120000);

afterAll(async () => {
  await stack?.destroy();
});

const without = (k: string) => Object.fromEntries(Object.entries(SAMPLE).filter(([n]) => n !== k));

interface Case { name: string; body?: unknown; raw?: string; headers?: Record<string, string>; path?: string; method?: string; status: number; mention: string }

function malformed(): Case[] {
  const f = (features: unknown): Case['body'] => ({ features });
  const cases: Case[] = [
    { name: 'broken JSON', raw: '{"features": {', status: 400, mention: 'JSON' },
    { name: 'JSON array body', raw: '[]', status: 400, mention: 'JSON object' },
    { name: 'JSON string body', raw: '"hello"', status: 400, mention: 'JSON object' },
    { name: 'JSON number body', raw: '42', status: 400, mention: 'JSON object' },
    { name: 'JSON null body', raw: 'null', status: 400, mention: 'JSON object' },
    { name: 'JSON true body', raw: 'true', status: 400, mention: 'JSON object' },
    { name: 'empty object', body: {}, status: 400, mention: 'missing "features"' },
    { name: 'both features and instances', body: { features: SAMPLE, instances: [SAMPLE] }, status: 400, mention: 'not both' },
    { name: 'extra top-level field', body: { features: SAMPLE, model: 'x' }, status: 400, mention: 'model: unknown field' },
    { name: 'features null', body: f(null), status: 400, mention: 'features: must be an object' },
    { name: 'features string', body: f('age=1'), status: 400, mention: 'features: must be an object' },
    { name: 'features array', body: f([59, 2, 32.1]), status: 400, mention: 'features: must be an object' },
    { name: 'features number', body: f(5), status: 400, mention: 'features: must be an object' },
    ...Object.keys(SAMPLE).map((k): Case => ({ name: `missing ${k}`, body: f(without(k)), status: 400, mention: `features.${k}: missing feature` })),
    { name: 'extra feature', body: f({ ...SAMPLE, glucose: 5 }), status: 400, mention: 'features.glucose: unknown feature' },
    { name: 'numeric string', body: f({ ...SAMPLE, age: '59' }), status: 400, mention: 'features.age: must be a number' },
    { name: 'boolean', body: f({ ...SAMPLE, sex: true }), status: 400, mention: 'features.sex: must be a number' },
    { name: 'null value', body: f({ ...SAMPLE, bmi: null }), status: 400, mention: 'features.bmi: must be a number, got null' },
    { name: 'array value', body: f({ ...SAMPLE, bp: [101] }), status: 400, mention: 'features.bp: must be a number, got an array' },
    { name: 'nested object value', body: f({ ...SAMPLE, s1: { $gt: 1 } }), status: 400, mention: 'features.s1: must be a number' },
    { name: 'deeply nested junk', body: f({ ...SAMPLE, s2: [[[[{ a: [1, { b: 2 }] }]]]] }), status: 400, mention: 'features.s2' },
    { name: 'string NaN', body: f({ ...SAMPLE, s3: 'NaN' }), status: 400, mention: 'features.s3: must be a number' },
    { name: 'literal NaN', raw: JSON.stringify(f(SAMPLE)).replace('"s3":38', '"s3":NaN'), status: 400, mention: 'JSON' },
    { name: 'literal Infinity', raw: JSON.stringify(f(SAMPLE)).replace('"s4":4', '"s4":Infinity'), status: 400, mention: 'JSON' },
    { name: 'overflow to +Infinity', raw: JSON.stringify(f(SAMPLE)).replace('"s5":4.8598', '"s5":1e999'), status: 400, mention: 'features.s5: must be a finite number' },
    { name: 'overflow to -Infinity', raw: JSON.stringify(f(SAMPLE)).replace('"s6":87', '"s6":-1e999'), status: 400, mention: 'features.s6: must be a finite number' },
    { name: 'absurdly large value', body: f({ ...SAMPLE, age: 1e9 }), status: 400, mention: 'features.age: out of range' },
    { name: 'absurdly negative value', body: f({ ...SAMPLE, bmi: -1000 }), status: 400, mention: 'features.bmi: out of range' },
    { name: 'duplicate key, last is a string', raw: JSON.stringify(f(SAMPLE)).replace('"age":59', '"age":59,"age":"x"'), status: 400, mention: 'features.age: must be a number' },
    { name: 'unicode lookalike feature name', body: f({ ...without('age'), 'âge': 59 }), status: 400, mention: 'features.âge: unknown feature' },
    { name: '500 unknown keys', body: f({ ...SAMPLE, ...Object.fromEntries(Array.from({ length: 500 }, (_v, i) => [`k${i}`, i])) }), status: 400, mention: 'unknown feature' },
    { name: 'instances not an array', body: { instances: SAMPLE }, status: 400, mention: 'instances: must be an array' },
    { name: 'instances empty', body: { instances: [] }, status: 400, mention: 'instances: must not be empty' },
    { name: 'instances too many', body: { instances: Array.from({ length: 65 }, () => SAMPLE) }, status: 400, mention: 'too many instances' },
    { name: 'instance not an object', body: { instances: [SAMPLE, 7] }, status: 400, mention: 'instances[1]: must be an object' },
    { name: 'instance with bad value', body: { instances: [SAMPLE, { ...SAMPLE, bmi: 'fat' }] }, status: 400, mention: 'instances[1].bmi: must be a number' },
    { name: 'instance missing a feature', body: { instances: [without('s6')] }, status: 400, mention: 'instances[0].s6: missing feature' },
    { name: '__proto__ poisoning', raw: '{"features":{"age":1},"__proto__":{"x":1}}', status: 400, mention: 'JSON' },
    { name: 'constructor poisoning', raw: '{"features":{"constructor":{"prototype":{"x":1}}}}', status: 400, mention: 'JSON' },
    { name: 'oversized body', raw: JSON.stringify({ features: { ...SAMPLE, pad: 'x'.repeat(70000) } }), status: 413, mention: 'larger than' },
    { name: 'text/plain', raw: JSON.stringify(f(SAMPLE)), headers: { 'content-type': 'text/plain' }, status: 415, mention: 'content-type must be application/json' },
    { name: 'form encoded', raw: 'age=59&sex=2', headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415, mention: 'content-type must be application/json' },
    { name: 'xml', raw: '<features/>', headers: { 'content-type': 'application/xml' }, status: 415, mention: 'content-type must be application/json' },
    { name: 'multipart', raw: '--x\r\n\r\n--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415, mention: 'content-type must be application/json' },
    { name: 'empty JSON body', raw: '', headers: { 'content-type': 'application/json' }, status: 400, mention: 'empty' },
    { name: 'wait not a number', body: f(SAMPLE), path: '/v1/predictions?wait=soon', status: 400, mention: 'wait: must be a whole number' },
    { name: 'wait negative', body: f(SAMPLE), path: '/v1/predictions?wait=-5', status: 400, mention: 'wait: must be a whole number' },
    { name: 'wait repeated', body: f(SAMPLE), path: '/v1/predictions?wait=1&wait=2', status: 400, mention: 'wait: must be a whole number' },
    { name: 'unknown query parameter', body: f(SAMPLE), path: '/v1/predictions?priority=high', status: 400, mention: 'priority: unknown query parameter' },
    { name: 'bad id: not a uuid', method: 'GET', path: '/v1/predictions/123', status: 400, mention: 'id: must be a lowercase UUID' },
    { name: 'bad id: uppercase uuid', method: 'GET', path: '/v1/predictions/6B2730CB-AEFC-4EF5-AA80-59CA8F91B59E', status: 400, mention: 'id: must be a lowercase UUID' },
    { name: 'bad id: injection', method: 'GET', path: `/v1/predictions/${encodeURIComponent('x*; KEYS *')}`, status: 400, mention: 'id: must be a lowercase UUID' },
    { name: 'bad id: long', method: 'GET', path: `/v1/predictions/${'a'.repeat(300)}`, status: 400, mention: 'id: must be a lowercase UUID' },
    { name: 'bad id: broken percent-encoding', method: 'GET', path: '/v1/predictions/%E0%A4%A', status: 400, mention: 'malformed URL' },
    { name: 'unknown id', method: 'GET', path: '/v1/predictions/00000000-0000-4000-8000-000000000000', status: 404, mention: 'unknown or expired' },
    { name: 'wrong method', method: 'PUT', body: f(SAMPLE), path: '/v1/predictions', status: 404, mention: 'no route PUT /v1/predictions' },
    { name: 'unknown route', method: 'GET', path: '/v2/predict', status: 404, mention: 'no route GET /v2/predict' },
  ];
  return cases;
}

describe('API against real RabbitMQ and Redis', () => {
  test('rejects >= 50 malformed requests with a 4xx JSON error naming the problem; nothing reaches the queue', async () => {
    const cases = malformed();
    expect(cases.length).toBeGreaterThanOrEqual(50);
    const failures: string[] = [];
    for (const c of cases) {
      const headers = { ...(c.headers ?? {}) };
      let body: unknown = c.body;
      if (c.raw !== undefined) { body = c.raw; if (!headers['content-type']) headers['content-type'] = 'application/json'; }
      const r = await http(c.method ?? 'POST', `${api.url}${c.path ?? '/v1/predictions'}`, body, headers);
      const msg = typeof r.body === 'object' && r.body?.error?.message;
      if (r.status !== c.status || !r.contentType.startsWith('application/json') || typeof msg !== 'string' || !msg.includes(c.mention) || typeof r.body.error.code !== 'string') {
        failures.push(`${c.name}: got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}; wanted ${c.status} mentioning ${JSON.stringify(c.mention)}`);
      }
      expect(r.status).toBeLessThan(500);
    }
    expect(failures).toEqual([]);
    // none reached a worker: there is no worker yet and the queue is empty
    const conn = await stack.amqp();
    const ch = await conn.createChannel();
    const q = await ch.checkQueue('api-test');
    expect(q.messageCount).toBe(0);
    await conn.close();
    const metrics = (await http('GET', `${api.url}/metrics`)).body as string;
    expect(metrics).not.toMatch(/serving_tasks_total\{[^}]*outcome="accepted"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/serving_tasks_total\{[^}]*outcome="rejected"[^}]*\} \d+/);
  });

  test('happy path: async, sync (wait) and batch; results carry the model version', async () => {
    // no worker yet: a sync request whose wait runs out answers 202 queued after about `wait` ms
    const early = await http('POST', `${api.url}/v1/predictions?wait=300`, { features: SAMPLE });
    expect(early.status).toBe(202);
    expect(early.body.status).toBe('queued');
    expect(early.ms).toBeGreaterThanOrEqual(290);
    const worker = await stack.spawn('worker', { QUEUE_NAME: 'api-test' });
    // ... and the worker picks it up once it runs
    await waitFor(async () => (await http('GET', `${api.url}/v1/predictions/${early.body.id}`)).body.status === 'done', 10000, 'early task done');
    const model = await http('GET', `${api.url}/v1/model`);
    expect(model.status).toBe(200);
    expect(model.body.features.map((f: { name: string }) => f.name)).toEqual(Object.keys(SAMPLE));
    const version = model.body.version as string;

    const a = await http('POST', `${api.url}/v1/predictions`, { features: SAMPLE });
    expect(a.status).toBe(202);
    expect(a.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: 'queued' });
    let got: any;
    await waitFor(async () => { got = (await http('GET', `${api.url}/v1/predictions/${a.body.id}`)).body; return got.status === 'done'; }, 10000, 'async result');
    expect(got).toEqual({ id: a.body.id, status: 'done', result: expect.any(Number), modelVersion: version, error: null });

    // The card's checkSet says what the model must answer: compare with a real round trip.
    const card = require('./fixtures/models/v1/model.json');
    const names = Object.keys(SAMPLE);
    const row = card.checkSet.inputs[0] as number[];
    const s = await http('POST', `${api.url}/v1/predictions?wait=5000`, { features: Object.fromEntries(names.map((n, i) => [n, row[i]])) });
    expect(s.status).toBe(200);
    expect(s.body.status).toBe('done');
    expect(s.body.modelVersion).toBe(version);
    expect(Math.abs(s.body.result - card.checkSet.outputs[0])).toBeLessThan(1e-3 * Math.max(1, Math.abs(card.checkSet.outputs[0])));

    const rows = (card.checkSet.inputs as number[][]).slice(0, 5);
    const b = await http('POST', `${api.url}/v1/predictions?wait=5000`, { instances: rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]]))) });
    expect(b.status).toBe(200);
    expect(b.body.result).toHaveLength(5);
    b.body.result.forEach((v: number, i: number) => expect(Math.abs(v - card.checkSet.outputs[i])).toBeLessThan(1e-3 * Math.max(1, Math.abs(card.checkSet.outputs[i]))));
    expect(b.body.modelVersion).toBe(version);

    const ready = await http('GET', `${api.url}/readyz`);
    expect(ready.body).toEqual({ status: 'ready', checks: { broker: true, backend: true, model: true } });
    expect((await http('GET', `${api.url}/healthz`)).status).toBe(200);
    const metrics = (await http('GET', `${api.url}/metrics`)).body as string;
    expect(metrics).toContain('serving_http_request_duration_seconds_bucket');
    expect(metrics).toMatch(new RegExp(`serving_model_info\\{[^}]*version="${version}"`));
    const wm = (await http('GET', `${worker.url}/metrics`)).body as string;
    expect(wm).toMatch(/serving_tasks_total\{[^}]*outcome="done"[^}]*\} [1-9]/);
    const page = await http('GET', `${api.url}/`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<form id="predict-form">');
    for (const n of names) expect(page.body).toContain(`name="${n}"`);
    expect(page.body).not.toMatch(/<script[^>]+src=|<link[^>]+href="http/);
  });

  test('Redis down: 503 JSON promptly, readyz 503, recovers by itself', async () => {
    await stack.redis.stop();
    await sleep(300);
    const r = await http('POST', `${api.url}/v1/predictions?wait=3000`, { features: SAMPLE });
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('backend_unavailable');
    expect(r.ms).toBeLessThan(3000);
    const g = await http('GET', `${api.url}/v1/predictions/00000000-0000-4000-8000-000000000000`);
    expect(g.status).toBe(503);
    expect(g.body.error.code).toBe('backend_unavailable');
    const ready = await http('GET', `${api.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.body.checks.backend).toBe(false);
    // a task that reaches a worker while Redis is down is held unacked until its result is stored
    const id = '22222222-3333-4444-8555-666666666666';
    const conn = await stack.amqp();
    const ch = await conn.createConfirmChannel();
    ch.sendToQueue('api-test', Buffer.from(JSON.stringify({ id, kind: 'single', features: Object.keys(SAMPLE), rows: [Object.values(SAMPLE)], enqueuedAt: Date.now() })), { persistent: true, messageId: id });
    await ch.waitForConfirms();
    await sleep(1500);
    expect((await ch.checkQueue('api-test')).messageCount).toBe(0); // delivered (unacked), not lost
    await conn.close();
    await stack.redis.start();
    await waitFor(async () => (await http('POST', `${api.url}/v1/predictions?wait=3000`, { features: SAMPLE })).status === 200, 20000, 'API recovers after Redis restart');
    await waitFor(async () => (await http('GET', `${api.url}/v1/predictions/${id}`)).body.status === 'done', 15000, 'held task stored after Redis is back');
  });

  test('stored result keys use the documented prefix', async () => {
    const r = await stack.redisClient();
    const keys = await r.keys(`${PREFIX}:task:*`);
    expect(keys.length).toBeGreaterThan(0);
    r.disconnect();
  });
});

describe('the model registry: GET /v1/models and the web page', () => {
  const v1 = require('./fixtures/models/v1/model.json');
  const v2 = require('./fixtures/models/v2/model.json');
  const evalSet = { name: 'diabetes', version: 1, dataset: 'builtin:diabetes', rows: 88, sha256: 'd'.repeat(64) };
  const gate = (cand: { version: string }, score: number, cur?: { version: string; score: number }) => ({
    evalSet, metric: 'rmse', higherIsBetter: false, minImprovement: 0.005, mode: 'promote', decision: 'accept',
    candidate: { version: cand.version, score }, current: cur ?? null,
  });

  test('after promote -> rollback -> promote: both versions, the live one, the history newest first; the page shows it', async () => {
    const models = stack.models;
    rmSync(join(models.dir, 'current')); // a fresh machine: the first model comes through the hooks
    models.promote('v1', 'promote', 'c1'.repeat(20), gate(v1, 63.25));
    models.promote('v2', 'promote', 'c2'.repeat(20), gate(v2, 57.59, { version: v1.version, score: 63.25 }));
    models.promote('v1', 'rollback', 'c3'.repeat(20), { ...gate(v1, 63.25, { version: v2.version, score: 57.59 }), mode: 'rollback' });
    models.promote('v2', 'promote', 'c4'.repeat(20), gate(v2, 57.59, { version: v1.version, score: 63.25 }));
    // the fixture dirs are named v1/v2 (not by version id), like any folder the hooks could keep
    const r = await http('GET', `${api.url}/v1/models`);
    expect(r.status).toBe(200);
    const reg = r.body;
    expect(reg.live).toBe('v2');
    expect(reg.aliases).toEqual({ champion: 'v2' });
    expect(reg.versions.map((v: { version: string; live: boolean }) => [v.version, v.live])).toEqual([['v2', true], ['v1', false]]);
    const [s2, s1] = reg.versions;
    expect(s2).toMatchObject({
      createdAt: v2.createdAt, family: 'ridge', params: { alpha: 1.0 }, gateScore: 57.59,
      cardMetric: { name: 'rmse', value: v2.metric.value },
      lineage: { runId: v2.run.id, dataset: 'builtin:diabetes', dataChecksum: v2.dataset.fingerprint, evalSet: 'diabetes v1', commit: 'c4'.repeat(20) },
    });
    expect(s2.liveSince).toHaveLength(2);
    expect(s1).toMatchObject({ family: 'random_forest', gateScore: 63.25, lineage: { commit: 'c3'.repeat(20) } });
    expect(s1.liveSince).toHaveLength(2);
    expect(reg.historyTotal).toBe(4);
    expect(reg.history.map((h: { kind: string; version: string; previous: string | null }) => [h.kind, h.version, h.previous])).toEqual([
      ['promote', 'v2', 'v1'],
      ['rollback', 'v1', 'v2'],
      ['promote', 'v2', 'v1'],
      ['promote', 'v1', null],
    ]);
    expect(reg.history[0].gate).toMatchObject({ score: 57.59, liveScore: 63.25, liveVersion: v1.version, evalSet: { name: 'diabetes', rows: 88 } });
    expect(reg.history[3].gate.liveScore).toBeNull();
    for (const h of reg.history) expect(h.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const page = await fetch(`${api.url}/`).then((x) => x.text());
    expect(page).toContain('<code id="registry-live">v2</code>');
    expect((page.match(/<tr class="promotion /g) ?? []).length).toBe(4);
    expect(page).toContain('<tr class="promotion rollback">');
    expect(page).toContain('rmse 57.59 (live was 63.25)');
  });
});
