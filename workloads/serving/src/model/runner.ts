import * as ort from 'onnxruntime-node';
import type { ModelCard } from './card';

export interface RunnerOptions {
  /** onnxruntime intra-op threads per session (default 1: scale with worker processes instead). */
  readonly intraOpThreads?: number;
}

/** One loaded ONNX session plus its card. Inputs: rows of floats in card feature order. */
export class OnnxRunner {
  private inFlight = 0;
  private releaseRequested = false;
  private released = false;

  private constructor(readonly card: ModelCard, private readonly session: ort.InferenceSession) {}

  static async create(card: ModelCard, bytes: Uint8Array, opts: RunnerOptions = {}): Promise<OnnxRunner> {
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: opts.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    if (!session.inputNames.includes(card.onnx.input)) {
      await session.release();
      throw new Error(`ONNX input "${card.onnx.input}" from the card not in model inputs [${session.inputNames.join(', ')}]`);
    }
    if (!session.outputNames.includes(card.onnx.output)) {
      await session.release();
      throw new Error(`ONNX output "${card.onnx.output}" from the card not in model outputs [${session.outputNames.join(', ')}]`);
    }
    return new OnnxRunner(card, session);
  }

  get version(): string {
    return this.card.version;
  }

  /** Runs N rows; returns N predictions. Throws on shape/type errors from onnxruntime. */
  async run(rows: readonly (readonly number[])[]): Promise<number[]> {
    if (this.released) throw new Error(`model ${this.version} was released`);
    const n = rows.length;
    const f = rows[0]?.length ?? 0;
    const data = new Float32Array(n * f);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      if (r.length !== f) throw new Error(`row ${i} has ${r.length} values, row 0 has ${f}`);
      for (let j = 0; j < f; j++) data[i * f + j] = r[j];
    }
    this.inFlight++;
    try {
      const out = await this.session.run({ [this.card.onnx.input]: new ort.Tensor('float32', data, [n, f]) }, [this.card.onnx.output]);
      const t = out[this.card.onnx.output];
      const values = Array.from(t.data as Float32Array | Float64Array, Number);
      if (values.length !== n) throw new Error(`model output has ${values.length} values for ${n} rows (dims ${JSON.stringify(t.dims)})`);
      return values;
    } finally {
      this.inFlight--;
      if (this.releaseRequested && this.inFlight === 0) void this.doRelease();
    }
  }

  /** Compares the model on the card's checkSet; throws if any output is outside tolerance. */
  async selfCheck(): Promise<void> {
    const c = this.card.checkSet;
    if (!c || c.inputs.length === 0) return;
    const got = await this.run(c.inputs);
    got.forEach((v, i) => {
      const want = c.outputs[i];
      if (!(Math.abs(v - want) <= c.tolerance * Math.max(1, Math.abs(want)))) {
        throw new Error(`checkSet row ${i}: model gives ${v}, card says ${want} (tolerance ${c.tolerance})`);
      }
    });
  }

  /** Releases the native session once no run is in flight. */
  release(): void {
    this.releaseRequested = true;
    if (this.inFlight === 0) void this.doRelease();
  }

  private async doRelease(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release().catch(() => undefined);
  }
}
