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

/**
 * Stores many final records in one call: each only if no final record exists yet (a redelivered
 * task is stored once), counts first stores, and publishes one notification per waiting API
 * channel with the JSON array of the records stored first, after they are written.
 * KEYS: done counter, failed counter, task keys… ARGV: ttl, #channels, channels…, then per record
 * json, 'd'|'f', channel index (0 = nobody waits).
 */
const STORE_FINAL_MANY = `
local ttl = tonumber(ARGV[1])
local nch = tonumber(ARGV[2])
local base = 2 + nch
local out = {}
local pubs = {}
local nd, nf = 0, 0
for i = 3, #KEYS do
  local j = base + (i - 3) * 3
  local json, st, ch = ARGV[j + 1], ARGV[j + 2], tonumber(ARGV[j + 3])
  local cur = redis.call('GET', KEYS[i])
  local final = false
  if cur then
    local ok, obj = pcall(cjson.decode, cur)
    final = ok and type(obj) == 'table' and (obj.status == 'done' or obj.status == 'failed')
  end
  if final then
    out[#out + 1] = 0
  else
    redis.call('SET', KEYS[i], json, 'EX', ttl)
    if st == 'f' then nf = nf + 1 else nd = nd + 1 end
    out[#out + 1] = 1
    if ch > 0 then
      local p = pubs[ch]
      if not p then p = {}; pubs[ch] = p end
      p[#p + 1] = json
    end
  end
end
if nd > 0 then redis.call('INCRBY', KEYS[1], nd) end
if nf > 0 then redis.call('INCRBY', KEYS[2], nf) end
for ch, arr in pairs(pubs) do redis.call('PUBLISH', ARGV[2 + ch], '[' .. table.concat(arr, ',') .. ']') end
return out
`;

/** Writes `queued` records (SET NX EX) for many ids; never overwrites a record a worker already stored. */
const MARK_QUEUED_MANY = `
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 1], 'EX', ttl, 'NX') end
return #KEYS
`;

interface StoreCommands {
  storeFinalMany(...args: (string | number)[]): Promise<number[]>;
  markQueuedMany(...args: (string | number)[]): Promise<number>;
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
    r.defineCommand('storeFinalMany', { lua: STORE_FINAL_MANY });
    r.defineCommand('markQueuedMany', { lua: MARK_QUEUED_MANY });
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
    await this.markQueuedMany([id]);
  }

  /** `queued` records for many ids in one round trip (SET NX: a faster worker's final record stays). */
  async markQueuedMany(ids: readonly string[]): Promise<void> {
    const createdAt = new Date().toISOString();
    await this.redis.markQueuedMany(ids.length, ...ids.map((id) => this.key(id)), this.cfg.resultTtlSeconds, ...ids.map((id) => `{"id":"${id}","status":"queued","createdAt":"${createdAt}"}`));
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const s = await this.redis.get(this.key(id));
    return s ? (JSON.parse(s) as TaskRecord) : undefined;
  }

  /** Stores many final records in one round trip (one script call); returns 1 (stored) or 0 (duplicate) per record. */
  async storeFinal(records: readonly { rec: TaskRecord; notify?: string }[]): Promise<number[]> {
    if (records.length === 0) return [];
    const channels: string[] = [];
    const chIndex = new Map<string, number>();
    const perRecord: (string | number)[] = [];
    for (const { rec, notify } of records) {
      let ci = 0;
      if (notify) {
        ci = chIndex.get(notify) ?? 0;
        if (!ci) { channels.push(notify); ci = channels.length; chIndex.set(notify, ci); }
      }
      perRecord.push(JSON.stringify(rec), rec.status === 'failed' ? 'f' : 'd', ci);
    }
    const keys = [this.counterKey('done'), this.counterKey('failed'), ...records.map(({ rec }) => this.key(rec.id))];
    const res = await this.redis.storeFinalMany(keys.length, ...keys, this.cfg.resultTtlSeconds, channels.length, ...channels, ...perRecord);
    return res.map(Number);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
