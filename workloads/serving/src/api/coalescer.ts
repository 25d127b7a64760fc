/**
 * Coalesces concurrent prediction requests into one broker message.
 *
 * Adaptive, bounded window: while fewer than `maxInFlight` publishes await their broker confirm,
 * a request is sent at once (in the same event-loop turn as any request that arrived with it), so
 * a lone request is never delayed. Requests arriving while `maxInFlight` publishes are pending
 * wait for the next confirm and then leave together in one message of at most `maxItems` tasks.
 * The window therefore grows with load and is never longer than one confirm round trip (itself
 * bounded by PUBLISH_TIMEOUT_MS). Each caller's promise settles with the publish (and `queued`
 * record) of the message that carries its task.
 */
export interface Pending<T> {
  readonly item: T;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export interface CoalescerOptions<T> {
  /** Publishes awaiting their confirm at once (≥ 1). */
  readonly maxInFlight: number;
  /** Tasks per message (≥ 1); 1 disables coalescing. */
  readonly maxItems: number;
  /** Sends one message carrying `items`; resolves once the broker confirmed it. */
  readonly send: (items: readonly T[]) => Promise<void>;
  /** Called with the size of every message sent (metrics). */
  readonly onBatch?: (size: number) => void;
}

export class Coalescer<T> {
  private pending: Pending<T>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly opts: CoalescerOptions<T>) {
    if (!(opts.maxInFlight >= 1) || !(opts.maxItems >= 1)) throw new Error('Coalescer: maxInFlight and maxItems must be ≥ 1');
  }

  /** Messages currently awaiting a confirm. */
  get publishing(): number {
    return this.inFlight;
  }

  /** Tasks waiting for a free publish slot. */
  get queued(): number {
    return this.pending.length;
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.pending.length === 0) return;
    this.scheduled = true;
    // setImmediate: requests parsed in the same I/O turn share the message; no timer, no added wait
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.pending.length && this.inFlight < this.opts.maxInFlight) {
      const batch = this.pending.splice(0, this.opts.maxItems);
      this.inFlight++;
      this.opts.onBatch?.(batch.length);
      let p: Promise<void>;
      try {
        p = this.opts.send(batch.map((b) => b.item));
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        () => { for (const b of batch) b.resolve(); },
        (e: unknown) => { for (const b of batch) b.reject(e); },
      ).finally(() => {
        this.inFlight--;
        this.drain();
      });
    }
  }
}
