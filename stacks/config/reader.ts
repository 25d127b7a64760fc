/**
 * Reads every key of the table (stacks/config/keys.ts) from the raw config, the same way for
 * all: unknown keys (with the nearest known one), keys the environment does not use, required
 * keys, each value through its schema, secrets stored as secrets and never shown. Every problem
 * is one line: "rayswarm:<key> must be <allowed> (got <value>): <why>".
 */
import type { z } from "zod";
import { EnvironmentKind, KEYS, KeyName, KeySpec, PROJECT, Read } from "./keys";
import { closest } from "./suggest";

/** `pulumi.runtime.allConfig()` form: "rayswarm:key" -> string. */
export type Raw = Readonly<Record<string, string>>;

/** Every key's value: what was set, else its default (also when what was set is wrong). */
export type Values = { readonly [K in KeyName]: Read<K> };

function shown(got: unknown): string {
  return got === undefined ? "nothing" : (JSON.stringify(got) ?? String(got));
}

/** `[3].roles.0`: where inside a list or object value an issue is. */
function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (i === 0 && typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
}

/** A config value equal to the key's default does not count as set (Pulumi.yaml's defaults reach the program like set values). */
function isDefault(spec: KeySpec, raw: string): boolean {
  if (spec.default === undefined) return false;
  if (typeof spec.default === "string") return raw === spec.default;
  try {
    return JSON.stringify(JSON.parse(raw)) === JSON.stringify(spec.default);
  } catch {
    return false;
  }
}

export class Reader {
  readonly problems: string[] = [];
  /** Keys whose set value was wrong (their value is the default). */
  readonly invalid = new Set<KeyName>();

  /** @param secretKeys the keys the stack stores as secrets (empty: unknown, not checked) */
  constructor(
    private readonly raw: Raw,
    private readonly secretKeys: readonly string[] = [],
  ) {}

  has(key: KeyName): boolean {
    return this.raw[`${PROJECT}:${key}`] !== undefined;
  }

  /** `rayswarm:<key> must be <allowed> (got <value>)[: <why>]`. */
  fail(key: string, allowed: string, got: unknown, why?: string): void {
    this.problems.push(`${PROJECT}:${key} must be ${allowed} (got ${shown(got)})${why ? `: ${why}` : ""}`);
  }

  /** Reads the whole table; problems are collected, never thrown. */
  values(): Values {
    this.unknownKeys();
    const environment = this.read("environment", "local") as EnvironmentKind;
    const out: Record<string, unknown> = { environment };
    this.unusedKeys(environment);
    for (const key of Object.keys(KEYS) as KeyName[]) if (key !== "environment") out[key] = this.read(key, environment);
    return out as Values;
  }

  /** A typo must never silently fall back to a default. */
  private unknownKeys(): void {
    const known = Object.keys(KEYS);
    for (const fullKey of Object.keys(this.raw)) {
      if (!fullKey.startsWith(`${PROJECT}:`)) continue;
      const key = fullKey.slice(PROJECT.length + 1);
      if (known.includes(key)) continue;
      const near = closest(key, known);
      this.problems.push(
        `${fullKey} is not a known key${near ? ` (did you mean ${PROJECT}:${near}?)` : ""}: known keys are listed in the README's config reference`,
      );
    }
  }

  /** Keys that the chosen environment ignores are an error, not a silent no-op. */
  private unusedKeys(environment: EnvironmentKind): void {
    for (const [key, spec] of Object.entries(KEYS) as [KeyName, KeySpec][]) {
      const raw = this.raw[`${PROJECT}:${key}`];
      if (spec.environments && !spec.environments.includes(environment) && raw !== undefined && !isDefault(spec, raw))
        this.problems.push(
          `${PROJECT}:${key} is not used when ${PROJECT}:environment is ${environment} (only with ${spec.environments.join(" or ")}): remove it`,
        );
    }
  }

  private read(key: KeyName, environment: EnvironmentKind): unknown {
    const spec = KEYS[key];
    const fallback = spec.default ?? spec.defaultIn?.[environment];
    const raw = this.raw[`${PROJECT}:${key}`];
    // A key this environment does not use keeps its default (a value set for it is reported above).
    if (spec.environments && !spec.environments.includes(environment)) return fallback;
    if (raw === undefined) {
      if (spec.required?.in.includes(environment))
        this.problems.push(
          `${PROJECT}:${key} must be set when ${PROJECT}:environment is ${environment} (got nothing): ${spec.required.why}`,
        );
      return fallback;
    }
    const parsed = spec.value.schema.safeParse(raw, { reportInput: true });
    if (!parsed.success) this.invalid.add(key);
    for (const issue of parsed.error?.issues ?? []) this.problem(key, spec, issue);
    if (spec.secret && this.secretKeys.length > 0 && !this.secretKeys.includes(`${PROJECT}:${key}`))
      this.problems.push(
        `${PROJECT}:${key} must be stored as a secret (got a plain value): set it with \`pulumi config set --secret ${key} ${spec.secret.setWith}\``,
      );
    return parsed.success ? parsed.data : fallback;
  }

  private problem(key: KeyName, spec: KeySpec, issue: z.core.$ZodIssue): void {
    const where = `${key}${pathOf(issue.path)}`;
    // A secret is never shown, not even when it is wrong.
    if (spec.secret)
      this.problems.push(`${PROJECT}:${where} must be ${issue.message} (got a value that is not one; not shown because it is a secret)`);
    else this.fail(where, issue.message, issue.input, (issue as { params?: { why?: string } }).params?.why);
  }
}
