import amqp, { type AmqpConnectionManager, type Channel } from 'amqp-connection-manager';
import type { Logger } from 'pino';
import type { Config } from './config';

export interface Topology {
  readonly queue: string;
  readonly deadLetterExchange: string;
  readonly deadLetterQueue: string;
  readonly deliveryLimit: number;
}

/**
 * Queue names derived from QUEUE_NAME. The main queue is a durable quorum queue whose
 * `x-delivery-limit` dead-letters a message redelivered too often (e.g. one that crashes
 * every worker); normal inference failures are counted by the worker and rejected into
 * the same dead-letter exchange after MAX_ATTEMPTS.
 */
export function topology(cfg: Pick<Config, 'queueName' | 'maxAttempts'>): Topology {
  return {
    queue: cfg.queueName,
    deadLetterExchange: `${cfg.queueName}.dlx`,
    deadLetterQueue: `${cfg.queueName}.dead`,
    deliveryLimit: cfg.maxAttempts,
  };
}

/** Declares exchange and queues (idempotent); run as a channel setup on every (re)connect. */
export async function assertTopology(ch: Channel, t: Topology): Promise<void> {
  await ch.assertExchange(t.deadLetterExchange, 'direct', { durable: true });
  await ch.assertQueue(t.deadLetterQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await ch.bindQueue(t.deadLetterQueue, t.deadLetterExchange, t.queue);
  await ch.assertQueue(t.queue, {
    durable: true,
    arguments: {
      'x-queue-type': 'quorum',
      'x-delivery-limit': t.deliveryLimit,
      'x-dead-letter-exchange': t.deadLetterExchange,
      'x-dead-letter-routing-key': t.queue,
    },
  });
}

/**
 * Connection manager that reconnects by itself with exponential backoff
 * (0.25 s doubling to 5 s, reset after a successful connect).
 */
export function connectBroker(cfg: Config, log: Logger, name: string): AmqpConnectionManager {
  let delayMs = 0;
  const conn = amqp.connect(null, {
    heartbeatIntervalInSeconds: 5,
    reconnectTimeInSeconds: 0.001,
    // noDelay: no Nagle delay on small frames (publish, confirm, ack)
    connectionOptions: { timeout: 3000, noDelay: true, clientProperties: { connection_name: name } } as never,
    findServers: async () => {
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      delayMs = Math.min(Math.max(delayMs * 2, 250), 5000);
      return cfg.amqp.url;
    },
  });
  conn.on('connect', () => {
    delayMs = 0;
    log.info({ broker: cfg.amqp.safeUrl }, 'broker connected');
  });
  conn.on('disconnect', ({ err }) => log.warn({ err: err?.message }, 'broker disconnected; reconnecting'));
  conn.on('connectFailed', ({ err }) => log.warn({ err: err?.message }, 'broker connect failed; retrying with backoff'));
  conn.on('blocked', ({ reason }) => log.warn({ reason }, 'broker blocked the connection'));
  return conn;
}
