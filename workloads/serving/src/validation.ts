import type { FeatureSpec, ModelCard } from './model/card';
import type { RangeMode } from './config';

export interface ValidationProblem {
  readonly path: string;
  readonly problem: string;
}

export class RequestInvalid extends Error {
  constructor(readonly problems: ValidationProblem[]) {
    super(problems.map((p) => `${p.path}: ${p.problem}`).join('; '));
  }
}

export interface RangePolicy {
  readonly mode: RangeMode;
  /** Allowed slack beyond the observed [min, max], as a multiple of the observed span (max - min). */
  readonly margin: number;
}

export interface ValidatedRequest {
  readonly kind: 'single' | 'batch';
  /** Rows in the card's feature order. */
  readonly rows: number[][];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Allowed interval for a feature under the policy. */
export function allowedRange(f: FeatureSpec, policy: RangePolicy): [number, number] {
  const span = f.max - f.min;
  const slack = (span > 0 ? span : Math.max(Math.abs(f.min), 1)) * policy.margin;
  return [f.min - slack, f.max + slack];
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v)})`;
  return `a ${typeof v}`;
}

function validateRow(row: unknown, path: string, card: ModelCard, policy: RangePolicy, out: ValidationProblem[]): number[] {
  if (!isObj(row)) {
    out.push({ path, problem: `must be an object mapping feature names to numbers, got ${describe(row)}` });
    return [];
  }
  const values: number[] = [];
  for (const f of card.features) {
    const v = row[f.name];
    const p = `${path}.${f.name}`;
    if (!Object.prototype.hasOwnProperty.call(row, f.name)) { out.push({ path: p, problem: 'missing feature' }); continue; }
    if (typeof v !== 'number') { out.push({ path: p, problem: `must be a number, got ${describe(v)}` }); continue; }
    if (!Number.isFinite(v)) { out.push({ path: p, problem: `must be a finite number, got ${v}` }); continue; }
    if (policy.mode === 'reject') {
      const [lo, hi] = allowedRange(f, policy);
      if (v < lo || v > hi) { out.push({ path: p, problem: `out of range: ${v} is outside the allowed [${lo}, ${hi}]` }); continue; }
    }
    values.push(v);
  }
  const known = new Set(card.features.map((f) => f.name));
  for (const k of Object.keys(row)) if (!known.has(k)) out.push({ path: `${path}.${k}`, problem: `unknown feature (model ${card.version} expects: ${[...known].join(', ')})` });
  return values;
}

/** Validates a prediction request body against the model card; throws RequestInvalid listing every problem. */
export function validatePredictionRequest(body: unknown, card: ModelCard, policy: RangePolicy, maxInstances: number): ValidatedRequest {
  const problems: ValidationProblem[] = [];
  if (!isObj(body)) throw new RequestInvalid([{ path: 'body', problem: `must be a JSON object with "features" or "instances", got ${describe(body)}` }]);
  const keys = Object.keys(body);
  for (const k of keys) if (k !== 'features' && k !== 'instances') problems.push({ path: k, problem: 'unknown field (allowed: "features" or "instances")' });
  const hasF = 'features' in body;
  const hasI = 'instances' in body;
  if (hasF && hasI) problems.push({ path: 'body', problem: 'give either "features" or "instances", not both' });
  if (!hasF && !hasI) problems.push({ path: 'body', problem: 'missing "features" (one prediction) or "instances" (a batch)' });
  if (problems.length) throw new RequestInvalid(problems);

  if (hasF) {
    const row = validateRow(body.features, 'features', card, policy, problems);
    if (problems.length) throw new RequestInvalid(problems);
    return { kind: 'single', rows: [row] };
  }
  const inst = body.instances;
  if (!Array.isArray(inst)) throw new RequestInvalid([{ path: 'instances', problem: `must be an array of feature objects, got ${describe(inst)}` }]);
  if (inst.length === 0) throw new RequestInvalid([{ path: 'instances', problem: 'must not be empty' }]);
  if (inst.length > maxInstances) throw new RequestInvalid([{ path: 'instances', problem: `too many instances: ${inst.length} > ${maxInstances}` }]);
  const rows = inst.map((r, i) => validateRow(r, `instances[${i}]`, card, policy, problems));
  if (problems.length) throw new RequestInvalid(problems.slice(0, 20));
  return { kind: 'batch', rows };
}
