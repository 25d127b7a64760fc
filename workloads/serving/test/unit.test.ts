/** Fast tests of pure logic: config validation, request validation, model card parsing, row alignment. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config';
import { createMetrics } from '../src/metrics';
import { parseModelCard } from '../src/model/card';
import { RequestInvalid, allowedRange, validatePredictionRequest } from '../src/validation';
import { TimeLimitExceeded, alignRows, withTimeLimit } from '../src/worker/worker';
import { MAIN, SAMPLE } from './helpers/stack';

const card = parseModelCard(require('./fixtures/models/v1/model.json'));
const dir = mkdtempSync(join(tmpdir(), 'rs-unit-'));
const pw = join(dir, 'pw');
writeFileSync(pw, 's3cret\n');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = { AMQP_HOST: 'rabbit', AMQP_PASSWORD_FILE: pw, REDIS_HOST: 'redis', MODEL_DIR: '/srv/models' };

describe('config', () => {
  test('defaults and secrets from files', () => {
    const c = loadConfig(base, 'worker');
    expect(c.role).toBe('worker');
    expect(c.port).toBe(8080);
    expect(c.amqp.url).toBe('amqp://guest:s3cret@rabbit:5672/%2F');
    expect(c.amqp.safeUrl).not.toContain('s3cret');
    expect(c.queueName).toBe('predictions');
    expect(c.maxAttempts).toBe(3);
    expect(c.rangeMode).toBe('reject');
  });
  test('ROLE from env, URL forms', () => {
    const c = loadConfig({ ROLE: 'api', AMQP_URL: 'amqp://svc@mq:5673/prod', AMQP_PASSWORD_FILE: pw, REDIS_URL: 'redis://cache:6380/2', REDIS_PASSWORD_FILE: pw, MODEL_DIR: '/m' });
    expect(c.role).toBe('api');
    expect(new URL(c.amqp.url).username).toBe('svc');
    expect(c.redis).toMatchObject({ host: 'cache', port: 6380, db: 2, password: 's3cret' });
  });
  test('collects every problem with a clear message', () => {
    let err: unknown;
    try {
      loadConfig({ AMQP_PASSWORD: 'x', PORT: 'eighty', AMQP_PASSWORD_FILE: '/nope', MAX_ATTEMPTS: '0', FEATURE_RANGE_MODE: 'maybe', AMQP_URL: 'amqp://u:p@h' }, 'both');
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const s of ['role: expected "api" or "worker"', 'AMQP_PASSWORD: secrets are not accepted', 'PORT: expected an integer', 'AMQP_PASSWORD_FILE: cannot read /nope', 'MAX_ATTEMPTS: must be between 1', 'FEATURE_RANGE_MODE: expected one of reject, off', 'AMQP_URL: must not contain a password', 'REDIS_URL or REDIS_HOST', 'MODEL_DIR: required']) expect(msg).toContain(s);
  });
  test('the binary exits 1 with the message on bad config, and --help works', () => {
    const bad = spawnSync(process.execPath, [MAIN, 'api'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('invalid configuration');
    expect(bad.stderr).toContain('MODEL_DIR: required');
    const help = spawnSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: rayswarm-serving <api|worker>');
  });
});

describe('request validation', () => {
  const policy = { mode: 'reject' as const, margin: 1 };
  test('single and batch rows come out in card order', () => {
    const shuffled = Object.fromEntries(Object.entries(SAMPLE).reverse());
    const v = validatePredictionRequest({ features: shuffled }, card, policy, 64);
    expect(v.rows[0]).toEqual(card.features.map((f) => SAMPLE[f.name as keyof typeof SAMPLE]));
    expect(validatePredictionRequest({ instances: [SAMPLE, SAMPLE] }, card, policy, 64).rows).toHaveLength(2);
  });
  test('range policy: margin of one observed span each side; off disables', () => {
    const age = card.features.find((f) => f.name === 'age')!;
    const [lo, hi] = allowedRange(age, policy);
    expect(lo).toBeCloseTo(age.min - (age.max - age.min));
    expect(hi).toBeCloseTo(age.max + (age.max - age.min));
    expect(() => validatePredictionRequest({ features: { ...SAMPLE, age: hi + 1 } }, card, policy, 64)).toThrow(RequestInvalid);
    expect(() => validatePredictionRequest({ features: { ...SAMPLE, age: age.max + 1 } }, card, policy, 64)).not.toThrow();
    expect(() => validatePredictionRequest({ features: { ...SAMPLE, age: 1e9 } }, card, { mode: 'off', margin: 1 }, 64)).not.toThrow();
  });
});

describe('model card', () => {
  test('fixtures v1 and v2 parse and share the feature list', () => {
    const v2 = parseModelCard(require('./fixtures/models/v2/model.json'));
    expect(v2.version).not.toBe(card.version);
    expect(v2.features.map((f) => f.name)).toEqual(card.features.map((f) => f.name));
  });
  test('rejects a broken card naming the problems', () => {
    expect(() => parseModelCard({ ...card, schemaVersion: 2, features: [{ name: 'a', type: 'int', min: 0, max: 1 }], onnx: { ...card.onnx, file: '../x' } }))
      .toThrow(/schemaVersion must be 1.*type must be "float32".*onnx.file must be a plain file name/);
  });
  test('alignRows reorders by name and refuses missing features', () => {
    const m = { card, version: card.version, dir: '/x' };
    const names = card.features.map((f) => f.name);
    const rev = [...names].reverse();
    const row = names.map((_n, i) => i);
    expect(alignRows({ id: 'x', kind: 'single', features: rev, rows: [[...row].reverse()], enqueuedAt: 0 }, m)).toEqual([row]);
    expect(() => alignRows({ id: 'x', kind: 'single', features: names.slice(1), rows: [row.slice(1)], enqueuedAt: 0 }, m)).toThrow(/missing from the task: age/);
  });
});

describe('task time limit', () => {
  test('a run that does not finish in time is rejected with TimeLimitExceeded', async () => {
    const t0 = Date.now();
    await expect(withTimeLimit(new Promise(() => undefined), 50)).rejects.toBeInstanceOf(TimeLimitExceeded);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    await expect(withTimeLimit(Promise.resolve(7), 50)).resolves.toBe(7);
  });
});

describe('metrics the monitoring watches', () => {
  test('every serving_* metric the alert rules (components/monitoring/rules) use is one the service registers', async () => {
    const rulesDir = join(__dirname, '../../../components/monitoring/rules');
    const rules = readdirSync(rulesDir)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => readFileSync(join(rulesDir, f), 'utf8'))
      .join('\n');
    const registered = new Set<string>();
    for (const role of ['api', 'worker']) for (const m of await createMetrics(role).registry.getMetricsAsJSON()) registered.add(m.name);
    expect([...registered].filter((n) => n.startsWith('serving_')).length).toBeGreaterThanOrEqual(5);
    const used = new Set([...rules.matchAll(/\b(serving_[a-z_]+?)(_bucket|_count|_sum)?\b[{[]/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThanOrEqual(2);
    for (const u of used) expect(registered).toContain(u);
  });
});
