import Redis, { type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from './config';

export type TaskStatus = 'queued' | 'done' | 'failed';

export interface TaskRecord {
  readonly id: string;
  readonly status: TaskStatus;
  /** A number for a single prediction, an array for a batch. */
  readonly result?: number | number[] | null;
  readonly modelVersion?: string | null;
  readonly error?: string | null;
  readonly attempts?: number;
  /** `<hostname>:<pid>` of the worker that stored the record (kept in Redis, not shown by the API). */
  readonly worker?: string;
  readonly createdAt?: string;
  readonly finishedAt?: string;
}

/** Stores a final record only if none is final yet; counts first stores; notifies a waiter channel. */
const STORE_FINAL = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' and (obj.status == 'done' or obj.status == 'failed') then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
redis.call('INCR', KEYS[2])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[1]) end
return 1
`;

interface StoreCommands {
  storeFinal(key: string, counterKey: string, json: string, ttl: number, channel: string): Promise<number>;
}

/** Exponential backoff 100 ms .. 3 s; ioredis reconnects forever. */
export function redisOptions(cfg: Config, log: Logger, name: string, offlineQueue: boolean): RedisOptions {
  return {
    host: cfg.redis.host,
    port: cfg.redis.port,
    db: cfg.redis.db,
    username: cfg.redis.username,
    password: cfg.redis.password,
    tls: cfg.redis.tls ? {} : undefined,
    connectionName: name,
    enableOfflineQueue: offlineQueue,
    maxRetriesPerRequest: offlineQueue ? null : 1,
    connectTimeout: 3000,
    commandTimeout: offlineQueue ? undefined : 2000,
    lazyConnect: false,
    retryStrategy: (times) => {
      const d = Math.min(100 * 2 ** Math.min(times, 5), 3000);
      if (times % 10 === 1) log.warn({ attempt: times, delayMs: d }, `redis (${name}) unreachable; reconnecting`);
      return d;
    },
  };
}

export class ResultStore {
  readonly redis: Redis & StoreCommands;

  constructor(private readonly cfg: Config, log: Logger, name: string) {
    const r = new Redis(redisOptions(cfg, log, name, false));
    r.on('error', () => undefined); // reported via retryStrategy; avoid unhandled 'error' events
    r.on('ready', () => log.info('redis ready'));
    r.defineCommand('storeFinal', { numberOfKeys: 2, lua: STORE_FINAL });
    this.redis = r as Redis & StoreCommands;
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  key(id: string): string {
    return `${this.cfg.keyPrefix}:task:${id}`;
  }

  counterKey(status: 'done' | 'failed'): string {
    return `${this.cfg.keyPrefix}:stats:${status}`;
  }

  notifyChannel(apiId: string): string {
    return `${this.cfg.keyPrefix}:notify:${apiId}`;
  }

  async markQueued(id: string): Promise<void> {
    const rec: TaskRecord = { id, status: 'queued', createdAt: new Date().toISOString() };
    await this.redis.set(this.key(id), JSON.stringify(rec), 'EX', this.cfg.resultTtlSeconds, 'NX');
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const s = await this.redis.get(this.key(id));
    return s ? (JSON.parse(s) as TaskRecord) : undefined;
  }

  /** Stores many final records in one round trip; returns 1 (stored) or 0 (duplicate) per record. */
  async storeFinal(records: { rec: TaskRecord; notify?: string }[]): Promise<number[]> {
    const p = this.redis.pipeline() as unknown as { storeFinal: (...a: unknown[]) => void; exec: () => Promise<[Error | null, unknown][] | null> };
    for (const { rec, notify } of records) {
      p.storeFinal(this.key(rec.id), this.counterKey(rec.status === 'failed' ? 'failed' : 'done'), JSON.stringify(rec), this.cfg.resultTtlSeconds, notify ?? '');
    }
    const res = await p.exec();
    if (!res) throw new Error('redis pipeline aborted');
    return res.map(([err, v]) => {
      if (err) throw err;
      return Number(v);
    });
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
