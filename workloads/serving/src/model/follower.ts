import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { parseModelCard, type ModelCard } from './card';
import { OnnxRunner } from './runner';

export interface LoadedModel {
  readonly card: ModelCard;
  readonly version: string;
  /** Resolved version folder it was read from (may be deleted later; nothing reads it again). */
  readonly dir: string;
  /** Present when the follower loads sessions (workers); the API only needs the card. */
  readonly runner?: OnnxRunner;
}

export interface FollowerOptions {
  readonly modelDir: string;
  readonly pollMs: number;
  readonly withSession: boolean;
  readonly log: Logger;
  readonly intraOpThreads?: number;
}

/**
 * Follows `MODEL_DIR/current` (a relative symlink to `versions/<v>/`). Each poll reads the link;
 * when its target changes, the new version is read fully into memory (card + ONNX bytes, sha256
 * checked, checkSet verified) and only then swapped in. Failures keep the old model serving.
 * Emits `swap` (LoadedModel, previous?) and `error` is never emitted (errors are logged).
 */
export class ModelFollower extends EventEmitter {
  private model: LoadedModel | undefined;
  private target: string | undefined;
  private failedTarget: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(private readonly opts: FollowerOptions) {
    super();
  }

  get current(): LoadedModel | undefined {
    return this.model;
  }

  /** First load attempt, then polling. Resolves even if no model is available yet. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks the link once (serialised). Exposed for tests. */
  poll(): Promise<void> {
    if (!this.polling) this.polling = this.pollOnce().finally(() => { this.polling = undefined; });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const link = join(this.opts.modelDir, 'current');
    let target: string;
    try {
      target = await readlink(link);
    } catch (e) {
      if (this.failedTarget !== '<missing>') this.opts.log.error({ err: e, link }, 'model link unreadable; keeping current model');
      this.failedTarget = '<missing>';
      return;
    }
    if (target === this.target) return;
    const dir = resolve(this.opts.modelDir, target);
    try {
      const loaded = await this.load(dir);
      const prev = this.model;
      this.model = loaded;
      this.target = target;
      this.failedTarget = undefined;
      this.opts.log.info({ version: loaded.version, dir, previous: prev?.version }, 'model loaded');
      this.emit('swap', loaded, prev);
      prev?.runner?.release();
    } catch (e) {
      if (this.failedTarget !== target) this.opts.log.error({ err: e, dir }, 'model load failed; keeping current model');
      this.failedTarget = target;
    }
  }

  private async load(dir: string): Promise<LoadedModel> {
    const cardPath = join(dir, 'model.json');
    const card = parseModelCard(JSON.parse(await readFile(cardPath, 'utf8')), cardPath);
    if (!this.opts.withSession) return { card, version: card.version, dir };
    const bytes = await readFile(join(dir, card.onnx.file));
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== card.onnx.sha256.toLowerCase()) throw new Error(`${card.onnx.file}: sha256 ${sha} does not match the card (${card.onnx.sha256})`);
    const runner = await OnnxRunner.create(card, bytes, { intraOpThreads: this.opts.intraOpThreads });
    try {
      await runner.selfCheck();
    } catch (e) {
      runner.release();
      throw e;
    }
    return { card, version: card.version, dir, runner };
  }
}
