import { readFileSync } from 'node:fs';

/** Raised for any invalid configuration; main prints the message and exits 1. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

export type Role = 'api' | 'worker';
export type RangeMode = 'reject' | 'off';

export interface AmqpConfig {
  /** amqp://user:pass@host:port/vhost assembled from parts; the password comes from a file. */
  readonly url: string;
  /** Same URL with the password masked, for logs. */
  readonly safeUrl: string;
}

export interface RedisConfig {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  readonly tls: boolean;
}

export interface Config {
  readonly role: Role;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
  readonly amqp: AmqpConfig;
  readonly redis: RedisConfig;
  readonly modelDir: string;
  readonly modelPollMs: number;
  readonly queueName: string;
  readonly keyPrefix: string;
  readonly prefetch: number;
  readonly batchMax: number;
  readonly resultTtlSeconds: number;
  readonly maxAttempts: number;
  readonly taskTimeLimitMs: number;
  readonly maxBatchInstances: number;
  readonly maxBodyBytes: number;
  readonly maxWaitMs: number;
  readonly publishTimeoutMs: number;
  /** API: publishes awaiting a broker confirm at once; requests arriving meanwhile share the next message. */
  readonly publishMaxInFlight: number;
  /** API: max tasks coalesced into one message (1 = one message per request). */
  readonly publishMaxItems: number;
  readonly rangeMode: RangeMode;
  readonly rangeMargin: number;
  readonly shutdownGraceMs: number;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Reads and validates the whole configuration. Collects every problem before throwing so one
 * run reports all of them. `roleArg` (the CLI argument) wins over ROLE.
 */
export function loadConfig(env: Env, roleArg?: string): Config {
  const problems: string[] = [];
  const p = new Parser(env, problems);

  const roleRaw = roleArg ?? env.ROLE;
  let role: Role = 'api';
  if (roleRaw === 'api' || roleRaw === 'worker') role = roleRaw;
  else problems.push(`role: expected "api" or "worker" as the first argument or in ROLE, got ${JSON.stringify(roleRaw ?? '')}`);

  for (const name of ['AMQP_PASSWORD', 'REDIS_PASSWORD']) {
    if (env[name] !== undefined) problems.push(`${name}: secrets are not accepted in the environment; put the secret in a file and set ${name}_FILE`);
  }

  const host = p.str('HOST', '0.0.0.0');
  const port = p.int('PORT', 8080, 1, 65535);
  const logLevel = p.oneOf('LOG_LEVEL', 'info', LOG_LEVELS);

  // --- AMQP
  const amqpPassword = p.secret('AMQP_PASSWORD_FILE');
  let amqp: AmqpConfig = { url: '', safeUrl: '' };
  const amqpUrl = env.AMQP_URL;
  if (amqpUrl) {
    try {
      const u = new URL(amqpUrl);
      if (u.protocol !== 'amqp:' && u.protocol !== 'amqps:') problems.push(`AMQP_URL: protocol must be amqp: or amqps:, got ${u.protocol}`);
      if (u.password) problems.push('AMQP_URL: must not contain a password; set AMQP_PASSWORD_FILE');
      if (!u.username) u.username = p.str('AMQP_USER', 'guest');
      if (amqpPassword !== undefined) u.password = encodeURIComponent(amqpPassword);
      amqp = { url: u.toString(), safeUrl: mask(u) };
    } catch {
      problems.push(`AMQP_URL: not a valid URL: ${JSON.stringify(amqpUrl)}`);
    }
  } else {
    const h = p.str('AMQP_HOST', '');
    if (!h) problems.push('AMQP_URL or AMQP_HOST: one is required (the RabbitMQ address)');
    const ap = p.int('AMQP_PORT', 5672, 1, 65535);
    const vhost = p.str('AMQP_VHOST', '/');
    const user = p.str('AMQP_USER', 'guest');
    const u = new URL(`amqp://${h || 'invalid'}:${ap}/${encodeURIComponent(vhost)}`);
    u.username = encodeURIComponent(user);
    if (amqpPassword !== undefined) u.password = encodeURIComponent(amqpPassword);
    amqp = { url: u.toString(), safeUrl: mask(u) };
  }

  // --- Redis
  const redisPassword = p.secret('REDIS_PASSWORD_FILE');
  let redis: RedisConfig = { host: '', port: 6379, db: 0, tls: false };
  const redisUrl = env.REDIS_URL;
  if (redisUrl) {
    try {
      const u = new URL(redisUrl);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') problems.push(`REDIS_URL: protocol must be redis: or rediss:, got ${u.protocol}`);
      if (u.password) problems.push('REDIS_URL: must not contain a password; set REDIS_PASSWORD_FILE');
      const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : p.int('REDIS_DB', 0, 0, 15);
      if (!Number.isInteger(db) || db < 0) problems.push(`REDIS_URL: database must be an integer, got ${u.pathname}`);
      redis = {
        host: u.hostname, port: u.port ? Number(u.port) : 6379, db,
        username: u.username ? decodeURIComponent(u.username) : env.REDIS_USERNAME || undefined,
        password: redisPassword, tls: u.protocol === 'rediss:',
      };
    } catch {
      problems.push(`REDIS_URL: not a valid URL: ${JSON.stringify(redisUrl)}`);
    }
  } else {
    const h = p.str('REDIS_HOST', '');
    if (!h) problems.push('REDIS_URL or REDIS_HOST: one is required (the Redis address)');
    redis = {
      host: h, port: p.int('REDIS_PORT', 6379, 1, 65535), db: p.int('REDIS_DB', 0, 0, 15),
      username: env.REDIS_USERNAME || undefined, password: redisPassword, tls: p.bool('REDIS_TLS', false),
    };
  }

  const modelDir = p.str('MODEL_DIR', '');
  if (!modelDir) problems.push('MODEL_DIR: required (folder that contains the `current` symlink)');

  const queueName = p.str('QUEUE_NAME', 'predictions');
  if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(queueName)) problems.push(`QUEUE_NAME: use letters, digits and _.:- only, got ${JSON.stringify(queueName)}`);

  const cfg: Config = {
    role, host, port, logLevel, amqp, redis, modelDir, queueName,
    modelPollMs: p.int('MODEL_POLL_MS', 1000, 50, 600000),
    keyPrefix: p.str('REDIS_KEY_PREFIX', 'rayswarm:serving'),
    prefetch: p.int('WORKER_PREFETCH', 64, 1, 10000),
    batchMax: p.int('WORKER_BATCH_MAX', 64, 1, 10000),
    resultTtlSeconds: p.int('RESULT_TTL_SECONDS', 86400, 1, 31 * 86400),
    maxAttempts: p.int('MAX_ATTEMPTS', 3, 1, 100),
    taskTimeLimitMs: p.int('TASK_TIME_LIMIT_MS', 10000, 1, 3600000),
    maxBatchInstances: p.int('MAX_BATCH_INSTANCES', 64, 1, 10000),
    maxBodyBytes: p.int('MAX_BODY_BYTES', 65536, 256, 64 * 1024 * 1024),
    maxWaitMs: p.int('MAX_WAIT_MS', 10000, 0, 600000),
    publishTimeoutMs: p.int('PUBLISH_TIMEOUT_MS', 2000, 100, 600000),
    publishMaxInFlight: p.int('PUBLISH_MAX_IN_FLIGHT', 2, 1, 1000),
    publishMaxItems: p.int('PUBLISH_MAX_ITEMS', 128, 1, 10000),
    rangeMode: p.oneOf('FEATURE_RANGE_MODE', 'reject', ['reject', 'off']) as RangeMode,
    rangeMargin: p.num('FEATURE_RANGE_MARGIN', 1.0, 0, 1e6),
    shutdownGraceMs: p.int('SHUTDOWN_GRACE_MS', 25000, 0, 3600000),
  };
  if (problems.length) throw new ConfigError(problems);
  return cfg;
}

function mask(u: URL): string {
  const c = new URL(u.toString());
  if (c.password) c.password = '***';
  return c.toString();
}

class Parser {
  constructor(private readonly env: Env, private readonly problems: string[]) {}

  str(name: string, dflt: string): string {
    const v = this.env[name];
    return v === undefined || v === '' ? dflt : v;
  }

  int(name: string, dflt: number, min: number, max: number): number {
    const v = this.env[name];
    if (v === undefined || v === '') return dflt;
    if (!/^-?\d+$/.test(v.trim())) { this.problems.push(`${name}: expected an integer, got ${JSON.stringify(v)}`); return dflt; }
    const n = Number(v);
    if (n < min || n > max) { this.problems.push(`${name}: must be between ${min} and ${max}, got ${n}`); return dflt; }
    return n;
  }

  num(name: string, dflt: number, min: number, max: number): number {
    const v = this.env[name];
    if (v === undefined || v === '') return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) { this.problems.push(`${name}: expected a number between ${min} and ${max}, got ${JSON.stringify(v)}`); return dflt; }
    return n;
  }

  bool(name: string, dflt: boolean): boolean {
    const v = this.env[name];
    if (v === undefined || v === '') return dflt;
    if (['1', 'true', 'yes'].includes(v.toLowerCase())) return true;
    if (['0', 'false', 'no'].includes(v.toLowerCase())) return false;
    this.problems.push(`${name}: expected true or false, got ${JSON.stringify(v)}`);
    return dflt;
  }

  oneOf(name: string, dflt: string, allowed: string[]): string {
    const v = this.str(name, dflt);
    if (!allowed.includes(v)) { this.problems.push(`${name}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`); return dflt; }
    return v;
  }

  /** Reads a Docker-secret style file; trailing newline stripped. Undefined when the variable is unset. */
  secret(name: string): string | undefined {
    const path = this.env[name];
    if (path === undefined || path === '') return undefined;
    try {
      const s = readFileSync(path, 'utf8').replace(/\r?\n$/, '');
      if (!s) this.problems.push(`${name}: file ${path} is empty`);
      return s;
    } catch (e) {
      this.problems.push(`${name}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      return undefined;
    }
  }
}
