/**
 * Messages the API publishes and a worker consumes (JSON, persistent).
 *
 * Since the API coalesces concurrent requests, one message carries a group of tasks
 * (`v: 2`, `items[]`); each item keeps its own id and ends in its own result record. The
 * single-task shape of earlier versions (`id`, `kind`, `rows` at top level) is still accepted,
 * so messages already in a queue during an upgrade are processed.
 */
export interface TaskItem {
  readonly id: string;
  readonly kind: 'single' | 'batch';
  readonly rows: readonly (readonly number[])[];
}

/** Group message (what the API publishes). `messageId` is the first item's id. */
export interface GroupMessage {
  readonly v: 2;
  /** Feature names in the order of each row (the API's model card order); shared by all items. */
  readonly features: readonly string[];
  readonly items: readonly TaskItem[];
  readonly enqueuedAt: number;
  /** Redis pub/sub channel of the API instance to notify when results are stored (`?wait=`), if any. */
  readonly notify?: string;
}

/** The single-task message of earlier versions (still consumed). */
export interface TaskMessage {
  readonly id: string;
  readonly kind: 'single' | 'batch';
  readonly features: readonly string[];
  readonly rows: readonly (readonly number[])[];
  readonly enqueuedAt: number;
  readonly notify?: string;
}

/** Either shape, normalised: a group of items with shared features and notify channel. */
export interface ParsedTask {
  readonly features: readonly string[];
  readonly items: readonly TaskItem[];
  readonly notify?: string;
}

function checkItem(t: Partial<TaskItem>, where: string): TaskItem {
  if (typeof t !== 'object' || t === null) throw new Error(`${where} is not a JSON object`);
  if (typeof t.id !== 'string' || !t.id) throw new Error(`${where} has no id`);
  if (t.kind !== 'single' && t.kind !== 'batch') throw new Error(`${where} kind must be single or batch`);
  if (!Array.isArray(t.rows) || t.rows.length === 0) throw new Error(`${where} needs non-empty rows[]`);
  return t as TaskItem;
}

export function parseTask(buf: Buffer): ParsedTask {
  const t = JSON.parse(buf.toString('utf8')) as Partial<TaskMessage> & Partial<GroupMessage>;
  if (typeof t !== 'object' || t === null) throw new Error('task is not a JSON object');
  if (!Array.isArray(t.features)) throw new Error('task needs features[]');
  const notify = typeof t.notify === 'string' && t.notify ? t.notify : undefined;
  if (t.v === 2) {
    if (!Array.isArray(t.items) || t.items.length === 0) throw new Error('task group needs non-empty items[]');
    return { features: t.features, items: t.items.map((x, i) => checkItem(x, `items[${i}]`)), notify };
  }
  if (typeof t.id !== 'string' || !t.id) throw new Error('task has no id');
  if (t.kind !== 'single' && t.kind !== 'batch') throw new Error('task kind must be single or batch');
  if (!Array.isArray(t.rows) || t.rows.length === 0) throw new Error('task needs features[] and non-empty rows[]');
  return { features: t.features, items: [{ id: t.id, kind: t.kind, rows: t.rows }], notify };
}
