import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ChannelWrapper, AmqpConnectionManager } from 'amqp-connection-manager';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import Redis from 'ioredis';
import type { Logger } from 'pino';
import { assertTopology, connectBroker, topology } from '../broker';
import type { Config } from '../config';
import { createMetrics, setModelVersion, type Metrics } from '../metrics';
import { ModelFollower } from '../model/follower';
import { ResultStore, redisOptions, type TaskRecord } from '../results';
import type { GroupMessage, TaskItem } from '../task';
import { Coalescer } from './coalescer';
import { RequestInvalid, validatePredictionRequest, type RangePolicy } from '../validation';
import { renderPage } from './page';
import { readRegistry } from '../model/registry';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface ApiHandle {
  readonly app: FastifyInstance<any, any, any, any>;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
  return reply.code(status).type('application/json').send({ error: details === undefined ? { code, message } : { code, message, details } });
}

/** Fastify error codes → stable, documented error codes. */
function errorCode(e: FastifyError): string {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return 'unsupported_media_type';
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return 'body_too_large';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY': return 'empty_body';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH': return 'invalid_content_length';
    case 'FST_ERR_VALIDATION': return 'invalid_request';
    default: return e.statusCode === 400 ? 'invalid_json' : 'bad_request';
  }
}

/** A client still sending more than this after an early error answer gets its connection closed. */
const LINGER_MAX_BYTES = 64 * 1024 * 1024;
const LINGER_MAX_MS = 10_000;

/**
 * Early error answers (413 before the body was read, 415, …): Fastify marks the reply
 * `connection: close`, and Node then closes the socket with the client's unread body still in
 * the kernel buffer, which sends a TCP reset — the client sees ECONNRESET while writing instead
 * of the answer. Instead keep reading and discarding the rest of the body (up to
 * LINGER_MAX_BYTES / LINGER_MAX_MS) on a kept-alive connection, so the answer arrives intact.
 */
function lingerForUnreadBody(raw: IncomingMessage, reply: FastifyReply): void {
  if (raw.complete || raw.destroyed) return;
  reply.removeHeader('connection');
  let seen = 0;
  const sock = raw.socket;
  const timer = setTimeout(() => sock.destroy(), LINGER_MAX_MS);
  timer.unref();
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > LINGER_MAX_BYTES) { clearTimeout(timer); raw.removeListener('data', onData); sock.destroy(); }
  };
  raw.on('data', onData);
  raw.once('end', () => clearTimeout(timer));
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}

class SendFailed extends Error {
  constructor(readonly reason: 'publish' | 'backend_down', readonly cause: unknown) {
    super(reason);
  }
}

function view(r: TaskRecord) {
  return { id: r.id, status: r.status, result: r.result ?? null, modelVersion: r.modelVersion ?? null, error: r.error ?? null };
}

export async function startApi(cfg: Config, log: Logger): Promise<ApiHandle> {
  const apiId = randomUUID();
  const metrics = createMetrics('api');
  const policy: RangePolicy = { mode: cfg.rangeMode, margin: cfg.rangeMargin };
  const topo = topology(cfg);

  const follower = new ModelFollower({ modelDir: cfg.modelDir, pollMs: cfg.modelPollMs, withSession: false, log: log.child({ component: 'model' }) });
  follower.on('swap', (m) => setModelVersion(metrics, m.version));
  await follower.start();

  const store = new ResultStore(cfg, log.child({ component: 'redis' }), `api-${apiId}`);
  const notifyChannel = store.notifyChannel(apiId);
  const waiters = new Map<string, (r: TaskRecord) => void>();
  const sub = new Redis(redisOptions(cfg, log, `api-sub-${apiId}`, true));
  sub.on('error', () => undefined);
  // one notification per stored batch: a JSON array of records (a single record from older workers)
  sub.on('message', (_ch: string, msg: string) => {
    try {
      const recs = JSON.parse(msg) as TaskRecord | TaskRecord[];
      for (const rec of Array.isArray(recs) ? recs : [recs]) waiters.get(rec.id)?.(rec);
    } catch { /* ignore malformed notifications */ }
  });
  void sub.subscribe(notifyChannel).catch((e: unknown) => log.warn({ err: e }, 'subscribe failed (will retry on reconnect)'));

  const conn: AmqpConnectionManager = connectBroker(cfg, log.child({ component: 'amqp' }), `api-${apiId}`);
  const channel: ChannelWrapper = conn.createChannel({ name: 'publish', confirm: true, publishTimeout: cfg.publishTimeoutMs, setup: (ch: Parameters<typeof assertTopology>[0]) => assertTopology(ch, topo) });
  channel.on('error', (err) => log.warn({ err: err.message }, 'publish channel setup error'));

  // Concurrent requests leave in one message (see coalescer.ts); its confirm and the `queued`
  // records (one script call) settle every request it carries.
  interface Entry { readonly item: TaskItem; readonly features: readonly string[]; readonly wait: boolean }
  const coalescer = new Coalescer<Entry>({
    maxInFlight: cfg.publishMaxInFlight,
    maxItems: cfg.publishMaxItems,
    onBatch: (n) => metrics.coalesced.observe(n),
    send: async (entries) => {
      const groups = new Map<string, Entry[]>(); // by feature order (differs only across a model swap)
      for (const e of entries) {
        const k = e.features.join('\u0000');
        const g = groups.get(k);
        if (g) g.push(e); else groups.set(k, [e]);
      }
      const notify = entries.some((e) => e.wait) ? notifyChannel : undefined;
      const enqueuedAt = Date.now();
      // The `queued` records (SET NX) and the publish run concurrently: NX never overwrites a final
      // record, so a worker that is faster than the SET cannot be undone by it.
      const [queued, ...published] = await Promise.allSettled([
        store.markQueuedMany(entries.map((e) => e.item.id)),
        ...[...groups.values()].map((g) => {
          const msg: GroupMessage = { v: 2, features: g[0].features, items: g.map((e) => e.item), enqueuedAt, notify };
          return channel.sendToQueue(topo.queue, Buffer.from(JSON.stringify(msg)), {
            persistent: true, messageId: g[0].item.id, contentType: 'application/json', timeout: cfg.publishTimeoutMs,
          });
        }),
      ]);
      const failed = published.find((p) => p.status === 'rejected');
      if (failed) throw new SendFailed('publish', (failed as PromiseRejectedResult).reason);
      if (queued.status === 'rejected') throw new SendFailed('backend_down', queued.reason);
    },
  });

  const app = Fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }), bodyLimit: cfg.maxBodyBytes, return503OnClosing: true, onProtoPoisoning: 'error', onConstructorPoisoning: 'error',
    // router-level errors (bad URL encoding, over-long path parameters) get the same JSON error shape
    frameworkErrors: (err, _req, reply) => {
      const e = err as FastifyError;
      if (e.code === 'FST_ERR_MAX_PARAM_LENGTH') return sendError(reply, 400, 'invalid_id', 'id: must be a lowercase UUID as returned by POST /v1/predictions (path parameter too long)');
      return sendError(reply, 400, 'bad_url', `malformed URL: ${e.message}`);
    },
  });
  app.removeContentTypeParser('text/plain');

  app.addHook('onResponse', (req, reply, done) => {
    metrics.httpDuration.observe({ route: req.routeOptions.url ?? 'unmatched', method: req.method, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code = errorCode(err);
      const message =
        code === 'unsupported_media_type' ? `content-type must be application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`
        : code === 'body_too_large' ? `request body larger than ${cfg.maxBodyBytes} bytes (MAX_BODY_BYTES); a batch may carry at most ${cfg.maxBatchInstances} instances (MAX_BATCH_INSTANCES)`
        : code === 'invalid_json' ? `body is not valid JSON: ${err.message}`
        : err.message;
      lingerForUnreadBody(req.raw, reply);
      return sendError(reply, status, code, message);
    }
    req.log.error({ err }, 'unhandled error');
    return sendError(reply, 500, 'internal', 'internal error');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));

  const brokerUp = () => conn.isConnected();

  app.post('/v1/predictions', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    let waitMs = 0;
    if (q.wait !== undefined) {
      if (typeof q.wait !== 'string' || !/^\d{1,9}$/.test(q.wait)) return sendError(reply, 400, 'invalid_request', 'wait: must be a whole number of milliseconds');
      waitMs = Math.min(Number(q.wait), cfg.maxWaitMs);
    }
    for (const k of Object.keys(q)) if (k !== 'wait') return sendError(reply, 400, 'invalid_request', `${k}: unknown query parameter (allowed: wait)`);
    const model = follower.current;
    if (!model) return sendError(reply, 503, 'model_unavailable', 'no model loaded yet');
    let rows: number[][];
    let kind: 'single' | 'batch';
    try {
      ({ rows, kind } = validatePredictionRequest(req.body, model.card, policy, cfg.maxBatchInstances));
    } catch (e) {
      if (e instanceof RequestInvalid) {
        metrics.tasks.inc({ outcome: 'rejected' });
        return sendError(reply, 400, 'invalid_request', e.message, e.problems);
      }
      throw e;
    }
    if (!brokerUp()) {
      metrics.publishFailures.inc({ reason: 'broker_down' });
      return sendError(reply, 503, 'broker_unavailable', 'message broker unreachable; retry later');
    }
    if (!store.ready) {
      metrics.publishFailures.inc({ reason: 'backend_down' });
      return sendError(reply, 503, 'backend_unavailable', 'result backend unreachable; retry later');
    }
    const id = randomUUID();
    let waiter: Promise<TaskRecord | undefined> | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (waitMs > 0) {
      waiter = new Promise((resolve) => {
        waiters.set(id, resolve);
        timer = setTimeout(() => resolve(undefined), waitMs);
      });
    }
    try {
      await coalescer.add({ item: { id, kind, rows }, features: model.card.features.map((f) => f.name), wait: waiter !== undefined });
    } catch (e) {
      if (timer) clearTimeout(timer);
      waiters.delete(id);
      const reason = e instanceof SendFailed ? e.reason : 'publish';
      metrics.publishFailures.inc({ reason });
      if (reason === 'publish') {
        req.log.warn({ err: e instanceof SendFailed ? String((e.cause as Error)?.message ?? e.cause) : String(e), id }, 'publish failed');
        return sendError(reply, 503, 'broker_unavailable', 'could not hand the task to the broker; retry later');
      }
      // published but the backend write failed: the client cannot follow the task, so say 503
      return sendError(reply, 503, 'backend_unavailable', 'result backend unreachable; retry later');
    }
    metrics.tasks.inc({ outcome: 'accepted' });
    if (waiter) {
      let rec = await waiter;
      if (timer) clearTimeout(timer);
      waiters.delete(id);
      if (!rec) rec = await store.get(id).catch(() => undefined);
      if (rec && rec.status !== 'queued') return reply.code(200).send(view(rec));
    }
    return reply.code(202).header('location', `/v1/predictions/${id}`).send({ id, status: 'queued' });
  });

  app.get('/v1/predictions/:id', async (req, reply) => {
    const { id } = req.params as { id: string };
    if (!UUID_RE.test(id)) return sendError(reply, 400, 'invalid_id', 'id: must be a lowercase UUID as returned by POST /v1/predictions');
    if (!store.ready) return sendError(reply, 503, 'backend_unavailable', 'result backend unreachable; retry later');
    let rec: TaskRecord | undefined;
    try {
      rec = await store.get(id);
    } catch {
      return sendError(reply, 503, 'backend_unavailable', 'result backend unreachable; retry later');
    }
    if (!rec) return sendError(reply, 404, 'not_found', `no task ${id} (unknown or expired)`);
    return view(rec);
  });

  app.get('/v1/model', async (_req, reply) => {
    const m = follower.current;
    if (!m) return sendError(reply, 503, 'model_unavailable', 'no model loaded yet');
    const c = m.card;
    return {
      version: c.version, createdAt: c.createdAt, target: c.target, dataset: c.dataset ?? null,
      metric: c.metric ?? null, model: c.model ?? null, onnx: { opset: c.onnx.opset, sha256: c.onnx.sha256 },
      features: c.features, featureRange: { mode: policy.mode, margin: policy.margin },
    };
  });

  // The registry of this machine: every version in MODEL_DIR/versions, which one is live and
  // the promotion history the hooks append (model/registry.ts).
  app.get('/v1/models', async () => readRegistry(cfg.modelDir));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const checks = { broker: brokerUp(), backend: store.ready, model: follower.current !== undefined };
    const ok = checks.broker && checks.backend && checks.model;
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unavailable', checks });
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'self'; img-src 'self' data:; script-src 'unsafe-inline'; style-src 'unsafe-inline'").send(renderPage(follower.current?.card, policy, Math.min(cfg.maxWaitMs, 10000), readRegistry(cfg.modelDir))));

  await app.listen({ host: cfg.host, port: cfg.port });

  return {
    app,
    metrics,
    async close() {
      follower.stop();
      await app.close();
      await channel.close().catch(() => undefined);
      await conn.close().catch(() => undefined);
      await sub.quit().catch(() => sub.disconnect());
      await store.close();
    },
  };
}
