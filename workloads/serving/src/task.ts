/** The message the API publishes and a worker consumes (JSON, persistent, messageId = id). */
export interface TaskMessage {
  readonly id: string;
  readonly kind: 'single' | 'batch';
  /** Feature names in the order of each row (the API's model card order). */
  readonly features: readonly string[];
  readonly rows: readonly (readonly number[])[];
  readonly enqueuedAt: number;
  /** Redis pub/sub channel of an API instance waiting for this result (`?wait=`), if any. */
  readonly notify?: string;
}

export function parseTask(buf: Buffer): TaskMessage {
  const t = JSON.parse(buf.toString('utf8')) as Partial<TaskMessage>;
  if (typeof t !== 'object' || t === null) throw new Error('task is not a JSON object');
  if (typeof t.id !== 'string' || !t.id) throw new Error('task has no id');
  if (t.kind !== 'single' && t.kind !== 'batch') throw new Error('task kind must be single or batch');
  if (!Array.isArray(t.features) || !Array.isArray(t.rows) || t.rows.length === 0) throw new Error('task needs features[] and non-empty rows[]');
  return t as TaskMessage;
}
