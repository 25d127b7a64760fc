/**
 * The model registry of one production machine, read from its model folder (MODEL_DIR):
 *   versions/<v>/model.json   every version present (the hooks keep the last KEEP)
 *   current -> versions/<v>   the live one
 *   history.jsonl             one JSON line per switch of `current`, appended by the production
 *                             post-receive hook: version, kind (promote|rollback), previous,
 *                             commit, at, host, gate (the gate's scores on the evaluation set)
 * Read on each request (a handful of small files); nothing is cached, so a promotion shows at once.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface GateScores {
  readonly evalSet: { readonly name: string; readonly version: number; readonly rows: number; readonly sha256: string } | null;
  readonly metric: string;
  /** The candidate's score on the evaluation set, and the live model's at the time (null: first model). */
  readonly score: number | null;
  readonly liveScore: number | null;
  readonly liveVersion: string | null;
  readonly minImprovement: number | null;
}

export interface HistoryEntry {
  readonly version: string;
  readonly kind: 'promote' | 'rollback';
  readonly at: string;
  readonly previous: string | null;
  readonly commit: string | null;
  readonly host: string | null;
  readonly gate: GateScores | null;
}

export interface VersionSummary {
  readonly version: string;
  readonly live: boolean;
  readonly createdAt: string | null;
  readonly family: string | null;
  readonly params: unknown;
  readonly target: string | null;
  /** The card's own metric (its own test split): information only. */
  readonly cardMetric: { readonly name: string; readonly value: number } | null;
  /** The gate's score on this machine's evaluation set, from the last time it became live. */
  readonly gateScore: number | null;
  readonly lineage: {
    readonly runId: string | null;
    readonly dataset: string | null;
    readonly dataChecksum: string | null;
    readonly evalSet: string | null;
    readonly commit: string | null;
  };
  /** When it became live on this machine, each time (oldest first). */
  readonly liveSince: readonly string[];
  readonly error?: string;
}

export interface Registry {
  readonly live: string | null;
  /** MLflow-style alias: `champion` = the live version. */
  readonly aliases: { readonly champion: string | null };
  readonly versions: readonly VersionSummary[];
  /** Newest first, at most HISTORY_LIMIT entries. */
  readonly history: readonly HistoryEntry[];
  readonly historyTotal: number;
}

export const HISTORY_LIMIT = 100;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function gateOf(raw: unknown): GateScores | null {
  if (!isObj(raw)) return null;
  const es = isObj(raw.evalSet) ? raw.evalSet : null;
  const cand = isObj(raw.candidate) ? raw.candidate : {};
  const cur = isObj(raw.current) ? raw.current : null;
  return {
    evalSet: es ? { name: String(es.name), version: Number(es.version), rows: Number(es.rows), sha256: String(es.sha256) } : null,
    metric: str(raw.metric) ?? 'rmse',
    score: num(cand.score),
    liveScore: cur ? num(cur.score) : null,
    liveVersion: cur ? str(cur.version) : null,
    minImprovement: num(raw.minImprovement),
  };
}

/** The history lines in file order; unreadable lines are skipped (a torn last line while appending). */
export function readHistory(modelDir: string): HistoryEntry[] {
  let text: string;
  try {
    text = readFileSync(join(modelDir, 'history.jsonl'), 'utf8');
  } catch {
    return [];
  }
  const out: HistoryEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      continue;
    }
    if (!isObj(raw) || !str(raw.version)) continue;
    out.push({
      version: String(raw.version),
      kind: raw.kind === 'rollback' ? 'rollback' : 'promote',
      at: str(raw.at) ?? '',
      previous: str(raw.previous),
      commit: str(raw.commit),
      host: str(raw.host),
      gate: gateOf(raw.gate),
    });
  }
  return out;
}

function liveVersion(modelDir: string): string | null {
  try {
    return basename(readlinkSync(join(modelDir, 'current')));
  } catch {
    return null;
  }
}

function summarize(modelDir: string, version: string, live: string | null, history: readonly HistoryEntry[]): VersionSummary {
  const mine = history.filter((h) => h.version === version);
  const last = mine[mine.length - 1];
  const base = { version, live: version === live, gateScore: last?.gate?.score ?? null, liveSince: mine.map((h) => h.at) };
  let card: Obj;
  try {
    const raw: unknown = JSON.parse(readFileSync(join(modelDir, 'versions', version, 'model.json'), 'utf8'));
    if (!isObj(raw)) throw new Error('not a JSON object');
    card = raw;
  } catch (e) {
    return {
      ...base, createdAt: null, family: null, params: null, target: null, cardMetric: null,
      lineage: { runId: null, dataset: null, dataChecksum: null, evalSet: null, commit: last?.commit ?? null },
      error: `model.json unreadable: ${(e as Error).message}`,
    };
  }
  const model = isObj(card.model) ? card.model : {};
  const ds = isObj(card.dataset) ? card.dataset : {};
  const metric = isObj(card.metric) ? card.metric : null;
  const ev = isObj(card.evaluation) ? card.evaluation : null;
  const run = isObj(card.run) ? card.run : {};
  return {
    ...base,
    createdAt: str(card.createdAt),
    family: str(model.family),
    params: model.params ?? null,
    target: str(card.target),
    cardMetric: metric && str(metric.name) && num(metric.value) !== null ? { name: String(metric.name), value: Number(metric.value) } : null,
    lineage: {
      runId: str(run.id),
      dataset: str(ds.name),
      dataChecksum: str(ds.fingerprint),
      evalSet: ev ? `${String(ev.name)} v${String(ev.version)}` : null,
      commit: last?.commit ?? null,
    },
  };
}

export function readRegistry(modelDir: string): Registry {
  const live = liveVersion(modelDir);
  const history = readHistory(modelDir);
  let names: string[] = [];
  try {
    names = readdirSync(join(modelDir, 'versions'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => d.name);
  } catch {
    names = [];
  }
  names.sort().reverse(); // version ids start with their UTC time: newest first
  return {
    live,
    aliases: { champion: live },
    versions: names.map((v) => summarize(modelDir, v, live, history)),
    history: history.slice(-HISTORY_LIMIT).reverse(),
    historyTotal: history.length,
  };
}
