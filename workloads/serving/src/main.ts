#!/usr/bin/env node
import { ConfigError, loadConfig } from './config';
import { createLogger } from './logger';

const HELP = `usage: rayswarm-serving <api|worker> [--help]

Roles:
  api     Fastify HTTP API (POST /v1/predictions, GET /v1/predictions/:id, /v1/model, /, /healthz, /readyz, /metrics)
  worker  consumes prediction tasks from RabbitMQ, runs the ONNX model, stores results in Redis

The role may also come from ROLE. All settings are environment variables; secrets only via *_FILE.
See workloads/serving/README.md for the full table.`;

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP + '\n');
    return;
  }
  const roleArg = argv.find((a) => !a.startsWith('-'));
  let cfg;
  try {
    cfg = loadConfig(process.env, roleArg);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`rayswarm-serving: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const log = createLogger(cfg.logLevel, cfg.role);
  log.info({ role: cfg.role, port: cfg.port, queue: cfg.queueName, broker: cfg.amqp.safeUrl, redis: `${cfg.redis.host}:${cfg.redis.port}/${cfg.redis.db}`, modelDir: cfg.modelDir }, 'starting');

  let stop: () => Promise<void>;
  if (cfg.role === 'api') {
    const { startApi } = await import('./api/server');
    const h = await startApi(cfg, log);
    stop = () => h.close();
  } else {
    const { startWorker } = await import('./worker/worker');
    const h = await startWorker(cfg, log);
    stop = () => h.stop();
  }
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down');
    const force = setTimeout(() => { log.error('shutdown took too long; exiting'); process.exit(1); }, cfg.shutdownGraceMs + 5000);
    force.unref();
    stop().then(
      () => process.exit(0),
      (e: unknown) => { log.error({ err: e }, 'error during shutdown'); process.exit(1); },
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`rayswarm-serving: fatal: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
