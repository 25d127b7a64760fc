import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { assertTopology, connectBroker, topology } from '../broker';
import type { Config } from '../config';
import { createMetrics, setModelVersion, type Metrics } from '../metrics';
import { ModelFollower, type LoadedModel } from '../model/follower';
import { ResultStore, type TaskRecord } from '../results';
import { parseTask, type ParsedTask, type TaskItem } from '../task';

interface Delivery {
  readonly msg: ConsumeMessage;
  /** The channel it arrived on: acks go there (a reconnected channel does not know old tags). */
  readonly ch: Channel;
}

/** A delivery with its message parsed (a group of one or more tasks) or the parse error. */
interface Parsed extends Delivery {
  readonly task?: ParsedTask;
  readonly parseError?: string;
  readonly size: number;
}

/** What happened to one task of a delivery. */
interface Outcome {
  readonly d: Parsed;
  readonly attempt: number;
  readonly record?: TaskRecord; // final (done/failed) → store
  readonly retry?: string; // inference error below MAX_ATTEMPTS → the message is requeued
  readonly notify?: string;
  readonly deadLetter?: boolean;
}

export interface WorkerHandle {
  readonly metrics: Metrics;
  readonly follower: ModelFollower;
  /** Graceful stop: no new deliveries, in-flight tasks finish and are acked, then connections close. */
  stop(): Promise<void>;
}

export class TimeLimitExceeded extends Error {}

/** Rejects with TimeLimitExceeded if `p` has not settled within `ms` (the run itself cannot be aborted; its result is ignored). */
export function withTimeLimit<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => { t = setTimeout(() => reject(new TimeLimitExceeded(`task time limit of ${ms} ms exceeded`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reorders a task's rows into the model's feature order (identity when orders match). */
export function alignRows<T extends { readonly features: readonly string[]; readonly rows: readonly (readonly number[])[] }>(task: T, model: LoadedModel): readonly (readonly number[])[] {
  const names = model.card.features.map((f) => f.name);
  if (names.length === task.features.length && names.every((n, i) => n === task.features[i])) return task.rows;
  const idx = names.map((n) => task.features.indexOf(n));
  const missing = names.filter((_n, i) => idx[i] < 0);
  if (missing.length) throw new Error(`model ${model.version} needs features missing from the task: ${missing.join(', ')}`);
  return task.rows.map((r) => idx.map((i) => r[i]));
}

export async function startWorker(cfg: Config, log: Logger): Promise<WorkerHandle> {
  const workerId = `${hostname()}:${process.pid}`;
  const metrics = createMetrics('worker');
  const topo = topology(cfg);
  const follower = new ModelFollower({ modelDir: cfg.modelDir, pollMs: cfg.modelPollMs, withSession: true, log: log.child({ component: 'model' }), intraOpThreads: Number(process.env.ORT_INTRA_OP_THREADS || 1) });
  follower.on('swap', (m: LoadedModel) => setModelVersion(metrics, m.version));
  await follower.start();
  const firstModel: Promise<void> = follower.current
    ? Promise.resolve()
    : new Promise((r) => follower.once('swap', () => r()));

  const store = new ResultStore(cfg, log.child({ component: 'redis' }), `worker-${process.pid}`);
  const conn = connectBroker(cfg, log.child({ component: 'amqp' }), `worker-${process.pid}`);

  let stopping = false;
  const consumers = new Map<Channel, string>();
  const buffer: Parsed[] = [];
  let flushScheduled = false;
  const inFlight = new Set<Promise<void>>();

  const channel = conn.createChannel({
    name: 'consume',
    confirm: false,
    setup: async (ch: Channel) => {
      await assertTopology(ch, topo);
      await firstModel; // never consume without a model
      if (stopping) return;
      await ch.prefetch(cfg.prefetch);
      const { consumerTag } = await ch.consume(topo.queue, (msg) => { if (msg) onMessage({ msg, ch }); }, { noAck: false });
      consumers.set(ch, consumerTag);
      ch.once('close', () => consumers.delete(ch));
      log.info({ queue: topo.queue, prefetch: cfg.prefetch }, 'consuming');
    },
  });
  channel.on('error', (err) => log.warn({ err: err.message }, 'consume channel setup error'));

  let bufferedItems = 0;

  function onMessage(d: Delivery): void {
    let p: Parsed;
    try {
      const task = parseTask(d.msg.content);
      p = { ...d, task, size: task.items.length };
    } catch (e) {
      p = { ...d, parseError: (e as Error).message, size: 1 };
    }
    buffer.push(p);
    bufferedItems += p.size;
    if (bufferedItems >= cfg.batchMax) flush();
    else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }

  /** Takes whole deliveries off the buffer until about WORKER_BATCH_MAX tasks; each batch runs concurrently. */
  function flush(): void {
    flushScheduled = false;
    while (buffer.length) {
      let n = 0;
      let k = 0;
      while (k < buffer.length && (k === 0 || n + buffer[k].size <= cfg.batchMax)) n += buffer[k++].size;
      const batch = buffer.splice(0, k);
      bufferedItems -= n;
      const p = processBatch(batch).catch((e: unknown) => log.error({ err: e }, 'batch processing crashed; messages will be redelivered'));
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }

  function attemptOf(d: Delivery): number {
    const c = d.msg.properties.headers?.['x-delivery-count'];
    return (typeof c === 'number' ? c : Number(c ?? 0) || 0) + 1;
  }

  function failure(d: Parsed, id: string, reason: string, model: LoadedModel | undefined, permanent: boolean): Outcome {
    const attempt = attemptOf(d);
    if (!permanent && attempt < cfg.maxAttempts) return { d, attempt, retry: reason };
    return {
      d, attempt, deadLetter: true, notify: d.task?.notify,
      record: { id, status: 'failed', result: null, modelVersion: model?.version ?? null, error: `${reason.replace(/\s+/g, ' ').trim()} (after ${attempt} attempt${attempt > 1 ? 's' : ''})`, attempts: attempt, worker: workerId, finishedAt: new Date().toISOString() },
    };
  }

  async function infer(model: LoadedModel, rows: readonly (readonly number[])[]): Promise<number[]> {
    const t0 = process.hrtime.bigint();
    const out = await withTimeLimit(model.runner!.run(rows), cfg.taskTimeLimitMs);
    metrics.inference.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    return out;
  }

  type Unit = { d: Parsed; item: TaskItem; rows: readonly (readonly number[])[] };

  /** ONNX runs of up to WORKER_BATCH_MAX tasks; a failing run is retried task by task so a poison task cannot fail its neighbours. */
  async function runUnits(model: LoadedModel, units: Unit[], outcomes: Outcome[]): Promise<void> {
    const done = (x: Unit, values: number[]): Outcome => ({
      d: x.d, attempt: attemptOf(x.d), notify: x.d.task?.notify,
      record: { id: x.item.id, status: 'done', result: x.item.kind === 'single' ? values[0] : values, modelVersion: model.version, error: null, attempts: attemptOf(x.d), worker: workerId, finishedAt: new Date().toISOString() },
    });
    for (let c = 0; c < units.length; c += cfg.batchMax) {
      const chunk = units.slice(c, c + cfg.batchMax);
      let all: number[] | undefined;
      let err: unknown;
      try {
        all = await infer(model, chunk.flatMap((x) => x.rows));
      } catch (e) {
        err = e; // isolate the bad task(s): run one by one below
      }
      if (all) {
        let o = 0;
        for (const x of chunk) { outcomes.push(done(x, all.slice(o, o + x.rows.length))); o += x.rows.length; }
        continue;
      }
      for (const x of chunk) {
        try {
          if (chunk.length === 1) throw err; // that run was this task alone
          outcomes.push(done(x, await infer(model, x.rows)));
        } catch (e) {
          const reason = e instanceof TimeLimitExceeded ? e.message : `inference error: ${(e as Error).message}`;
          outcomes.push(failure(x.d, x.item.id, reason, model, false));
        }
      }
    }
  }

  async function processBatch(batch: Parsed[]): Promise<void> {
    const model = follower.current!; // captured: the whole batch runs on (and is stamped with) one version
    const outcomes: Outcome[] = [];
    const units: Unit[] = [];
    for (const d of batch) {
      if (!d.task) {
        const id = d.msg.properties.messageId as string | undefined;
        if (id) outcomes.push(failure(d, id, `malformed task: ${d.parseError}`, model, true));
        else outcomes.push({ d, attempt: attemptOf(d), deadLetter: true });
        continue;
      }
      for (const item of d.task.items) {
        try {
          units.push({ d, item, rows: alignRows({ features: d.task.features, rows: item.rows }, model) });
        } catch (e) {
          outcomes.push(failure(d, item.id, (e as Error).message, model, false));
        }
      }
    }
    if (units.length) await runUnits(model, units, outcomes);
    // Store every final record (one script call), retrying while Redis is down; only then ack.
    const finals = outcomes.filter((o) => o.record);
    let stored: number[] = [];
    if (finals.length) {
      for (let delay = 100; ; delay = Math.min(delay * 2, 3000)) {
        try {
          stored = await store.storeFinal(finals.map((o) => ({ rec: o.record!, notify: o.notify })));
          break;
        } catch (e) {
          if (stopping && Date.now() > hardDeadline) { log.error('result backend still down at shutdown deadline; leaving tasks unacked (they will be redelivered)'); return; }
          log.warn({ err: (e as Error).message, delayMs: delay }, 'storing results failed; retrying');
          await sleep(delay);
        }
      }
    }
    // Per delivery: any task to retry → requeue the message (tasks already final are not stored
    // again on redelivery); any task failed for good → dead-letter it; otherwise ack.
    const rank = { ack: 0, dead: 1, retry: 2 } as const;
    const verdict = new Map<Parsed, keyof typeof rank>();
    const raise = (d: Parsed, v: keyof typeof rank) => { if (rank[v] >= rank[verdict.get(d) ?? 'ack']) verdict.set(d, v); };
    let i = 0;
    for (const o of outcomes) {
      if (o.record) {
        const isNew = stored[i++] === 1;
        metrics.tasks.inc({ outcome: isNew ? o.record.status : 'duplicate' });
        if (o.deadLetter) log.warn({ id: o.record.id, attempt: o.attempt, error: o.record.error }, 'task failed; dead-lettering');
        raise(o.d, o.deadLetter ? 'dead' : 'ack');
      } else if (o.deadLetter) {
        metrics.tasks.inc({ outcome: 'failed' });
        log.warn({ attempt: o.attempt }, 'unidentifiable malformed message; dead-lettering');
        raise(o.d, 'dead');
      } else {
        metrics.tasks.inc({ outcome: 'retried' });
        log.warn({ id: o.d.msg.properties.messageId, attempt: o.attempt, reason: o.retry }, 'task failed; will be retried');
        raise(o.d, 'retry');
      }
    }
    for (const [d, v] of verdict) {
      try {
        if (v === 'ack') d.ch.ack(d.msg);
        else d.ch.nack(d.msg, false, v === 'retry');
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'ack/nack on a closed channel; the broker redelivers the task');
      }
    }
  }

  let hardDeadline = Number.POSITIVE_INFINITY;
  const http: Server = createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', model: follower.current?.version ?? null }));
    } else if (url === '/readyz') {
      const checks = { broker: conn.isConnected(), backend: store.ready, model: follower.current !== undefined, consuming: consumers.size > 0 };
      const okAll = Object.values(checks).every(Boolean) && !stopping;
      res.writeHead(okAll ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: okAll ? 'ready' : 'unavailable', checks }));
    } else if (url === '/metrics') {
      metrics.registry.metrics().then(
        (m) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(m),
        () => res.writeHead(500).end(),
      );
    } else res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: `no route ${url}` } }));
  });
  await new Promise<void>((r) => http.listen(cfg.port, cfg.host, r));

  return {
    metrics,
    follower,
    async stop() {
      if (stopping) return;
      stopping = true;
      hardDeadline = Date.now() + cfg.shutdownGraceMs;
      log.info({ inFlight: inFlight.size + buffer.length }, 'stopping: cancelling consumers, finishing in-flight tasks');
      await Promise.all([...consumers].map(([ch, tag]) => ch.cancel(tag).catch(() => undefined)));
      flush();
      const deadline = sleep(cfg.shutdownGraceMs).then(() => 'timeout' as const);
      while (inFlight.size) {
        if ((await Promise.race([Promise.all([...inFlight]), deadline])) === 'timeout') { log.error('shutdown grace period over; unfinished tasks will be redelivered'); break; }
      }
      follower.stop();
      await channel.close().catch(() => undefined);
      await conn.close().catch(() => undefined);
      await store.close();
      await new Promise<void>((r) => http.close(() => r()));
      log.info('stopped');
    },
  };
}
