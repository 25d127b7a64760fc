/** Coalescer and open-loop percentile logic (no servers). */
import { Coalescer } from '../src/api/coalescer';
import { percentile } from '../src/bench/openloop';
import { parseTask } from '../src/task';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

describe('Coalescer', () => {
  test('a lone request is sent in the same turn, without a timer', async () => {
    const sent: number[][] = [];
    const c = new Coalescer<number>({ maxInFlight: 2, maxItems: 10, send: async (xs) => { sent.push([...xs]); } });
    const t0 = process.hrtime.bigint();
    await c.add(1);
    expect(Number(process.hrtime.bigint() - t0) / 1e6).toBeLessThan(50);
    expect(sent).toEqual([[1]]);
  });

  test('requests arriving while maxInFlight publishes pend leave together with the next confirm, at most maxItems per message', async () => {
    const sends: { xs: number[]; d: ReturnType<typeof deferred> }[] = [];
    const c = new Coalescer<number>({ maxInFlight: 1, maxItems: 3, send: (xs) => { const d = deferred(); sends.push({ xs: [...xs], d }); return d.promise; } });
    const settled: number[] = [];
    const ps = [0, 1, 2, 3, 4, 5].map((i) => c.add(i).then(() => settled.push(i)));
    await new Promise((r) => setImmediate(r));
    // same turn: one message with up to maxItems
    expect(sends.map((s) => s.xs)).toEqual([[0, 1, 2]]);
    expect(c.publishing).toBe(1);
    expect(c.queued).toBe(3);
    const more = c.add(6).then(() => settled.push(6));
    await new Promise((r) => setImmediate(r));
    expect(sends).toHaveLength(1); // waits for the confirm: no second publish while one pends
    sends[0].d.resolve();
    await ps[2];
    expect(settled.sort()).toEqual([0, 1, 2]);
    expect(sends.map((s) => s.xs)).toEqual([[0, 1, 2], [3, 4, 5]]);
    sends[1].d.resolve();
    await ps[5];
    expect(sends.map((s) => s.xs)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    sends[2].d.resolve();
    await more;
    expect(c.publishing).toBe(0);
  });

  test('a failed publish rejects every request it carried, and later requests still go out', async () => {
    let n = 0;
    const c = new Coalescer<string>({ maxInFlight: 1, maxItems: 10, send: async () => { if (n++ === 0) throw new Error('nack'); } });
    const r = await Promise.allSettled([c.add('a'), c.add('b')]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    await expect(c.add('c')).resolves.toBeUndefined();
  });
});

describe('task messages', () => {
  test('group messages and the older single-task shape parse to items', () => {
    const g = parseTask(Buffer.from(JSON.stringify({ v: 2, features: ['a'], items: [{ id: 'x', kind: 'single', rows: [[1]] }, { id: 'y', kind: 'batch', rows: [[2], [3]] }], enqueuedAt: 0, notify: 'ch' })));
    expect(g).toEqual({ features: ['a'], notify: 'ch', items: [{ id: 'x', kind: 'single', rows: [[1]] }, { id: 'y', kind: 'batch', rows: [[2], [3]] }] });
    const s = parseTask(Buffer.from(JSON.stringify({ id: 'z', kind: 'single', features: ['a'], rows: [[1]], enqueuedAt: 0 })));
    expect(s).toEqual({ features: ['a'], notify: undefined, items: [{ id: 'z', kind: 'single', rows: [[1]] }] });
    expect(() => parseTask(Buffer.from(JSON.stringify({ v: 2, features: ['a'], items: [{ id: 'x', kind: 'single', rows: [] }] })))).toThrow(/items\[0\] needs non-empty rows/);
  });
});

test('percentile: nearest rank', () => {
  const xs = Float64Array.from({ length: 1000 }, (_v, i) => i + 1);
  expect(percentile(xs, 50)).toBe(500);
  expect(percentile(xs, 99)).toBe(990);
  expect(percentile(xs, 99.9)).toBe(999);
  expect(percentile(xs, 100)).toBe(1000);
});
