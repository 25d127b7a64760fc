/** The model card (`model.json`) written by the tuning workload next to `model.onnx`. */
export interface FeatureSpec {
  readonly name: string;
  readonly type: 'float32';
  /** Observed minimum in the training data. */
  readonly min: number;
  /** Observed maximum in the training data. */
  readonly max: number;
}

export interface ModelCard {
  readonly schemaVersion: 1;
  readonly version: string;
  readonly createdAt: string;
  readonly dataset?: unknown;
  readonly target: string;
  /** Order == ONNX input column order. */
  readonly features: readonly FeatureSpec[];
  readonly onnx: { readonly file: string; readonly sha256: string; readonly input: string; readonly output: string; readonly opset: number };
  readonly metric?: { readonly name: string; readonly value: number; readonly higherIsBetter: boolean };
  readonly model?: { readonly family: string; readonly params?: unknown };
  readonly libraries?: unknown;
  readonly checkSet?: { readonly inputs: number[][]; readonly outputs: number[]; readonly tolerance: number };
  readonly featureChange?: unknown;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Validates parsed JSON against the card contract; throws an Error naming every problem. */
export function parseModelCard(raw: unknown, where = 'model.json'): ModelCard {
  const problems: string[] = [];
  if (!isObj(raw)) throw new Error(`${where}: not a JSON object`);
  if (raw.schemaVersion !== 1) problems.push(`schemaVersion must be 1, got ${JSON.stringify(raw.schemaVersion)}`);
  if (!isStr(raw.version)) problems.push('version must be a non-empty string');
  if (!isStr(raw.target)) problems.push('target must be a non-empty string');
  if (!Array.isArray(raw.features) || raw.features.length === 0) problems.push('features must be a non-empty array');
  else {
    const seen = new Set<string>();
    raw.features.forEach((f, i) => {
      if (!isObj(f) || !isStr(f.name)) { problems.push(`features[${i}].name must be a non-empty string`); return; }
      if (seen.has(f.name)) problems.push(`features[${i}].name ${f.name} is duplicated`);
      seen.add(f.name);
      if (f.type !== 'float32') problems.push(`features[${i}] (${f.name}): type must be "float32", got ${JSON.stringify(f.type)}`);
      if (!isNum(f.min) || !isNum(f.max) || f.min > f.max) problems.push(`features[${i}] (${f.name}): min/max must be finite numbers with min <= max`);
    });
  }
  const o = raw.onnx;
  if (!isObj(o)) problems.push('onnx must be an object');
  else {
    for (const k of ['file', 'sha256', 'input', 'output']) if (!isStr(o[k])) problems.push(`onnx.${k} must be a non-empty string`);
    if (isStr(o.file) && (o.file.includes('/') || o.file.includes('\\') || o.file.startsWith('.'))) problems.push('onnx.file must be a plain file name');
    if (isStr(o.sha256) && !/^[0-9a-f]{64}$/i.test(o.sha256)) problems.push('onnx.sha256 must be 64 hex digits');
  }
  if (raw.checkSet !== undefined && raw.checkSet !== null) {
    const c = raw.checkSet;
    if (!isObj(c) || !Array.isArray(c.inputs) || !Array.isArray(c.outputs) || c.inputs.length !== c.outputs.length || !isNum(c.tolerance))
      problems.push('checkSet must have inputs[][] and outputs[] of equal length and a numeric tolerance');
  }
  if (problems.length) throw new Error(`${where}: ${problems.join('; ')}`);
  return raw as unknown as ModelCard;
}
