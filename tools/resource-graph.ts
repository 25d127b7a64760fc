/**
 * The resource graph of a stack under mocks (tools/mock-run), as data a reviewer can read: per
 * resource its type, name, parent, resolved inputs (triggers above all), the options that decide
 * replacement (deleteBeforeReplace, ignoreChanges, aliases) and its direct dependencies.
 *
 * A deployed stack sees a refactor as "no change" only if every existing resource keeps its
 * type, name, parent (or an alias of the old one) and every input byte for byte: a changed
 * trigger replaces a remote command, which re-runs it and runs the old one's delete.
 * tests/unit/resource-graph.test.ts compares the program with the graphs committed in
 * tests/unit/data/resource-graph/<stack>.json; a change that is meant to change the graph
 * rewrites them with
 *
 *   npm run resource-graph -- --write        (then read the diff: every line is a change a deployed stack sees)
 *
 * Long strings (bundle installers, stack files, configs on stdin) are recorded as their sha256
 * and length; a secret value is marked `<secret>` (so a value that stops being secret shows), and a
 * private key (mock ones only, but still) by its sha256.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { program } from "../stacks/program";
import { existingConfig, RunResult, runProgram, stackConfig } from "./mock-run";

export const GRAPH_STACKS = ["local", "dev", "prod", "existing"] as const;
export type GraphStack = (typeof GRAPH_STACKS)[number];

export const GRAPH_DIR = path.resolve(__dirname, "../tests/unit/data/resource-graph");

/** Strings longer than this are recorded by hash. */
const LONG = 600;
/** The Pulumi SDK's envelopes for secrets and assets in resolved inputs. */
const SPECIAL_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex");

export interface GraphNode {
  readonly type: string;
  readonly name: string;
  /** `type::name` of the parent component; absent at the stack's root. */
  readonly parent?: string;
  readonly inputs?: unknown;
  readonly options?: Record<string, unknown>;
  /** `type::name` of every resource it waits for directly (dependsOn and the Outputs in its inputs). */
  readonly dependsOn: string[];
}

/** Stack configs the graphs are made from: the Pulumi.<stack>.yaml files, and a five-machine inventory for `existing`. */
export function graphConfig(stack: GraphStack): Record<string, string> {
  return stack === "existing" ? existingConfig() : stackConfig(stack);
}

/** Waits for what the SDK left as promises in resolved inputs (a FileAsset's path). */
async function settled(v: unknown): Promise<unknown> {
  if (v instanceof Promise) return settled(await v);
  if (Array.isArray(v)) return Promise.all(v.map(settled));
  if (v && typeof v === "object" && !pulumi.Output.isInstance(v))
    return Object.fromEntries(await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await settled(x)])));
  return v;
}

function normalise(v: unknown, tmpDirs: readonly string[]): unknown {
  if (typeof v === "string") {
    let s = v;
    for (const d of tmpDirs) s = s.split(d).join("<tarballs>");
    // Mock keys only, but a file in the repository never holds anything shaped like a private key.
    if (s.includes("PRIVATE KEY")) return `<private key, sha256 ${sha(s).slice(0, 16)}>`;
    return s.length > LONG ? `<${s.length} chars, sha256 ${sha(s).slice(0, 16)}>` : s;
  }
  if (Array.isArray(v)) return v.map((x) => normalise(x, tmpDirs));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SPECIAL_SIG] === SECRET_SIG) return { "<secret>": normalise(o.value ?? null, tmpDirs) };
    return Object.fromEntries(
      Object.keys(o)
        .filter((k) => k !== SPECIAL_SIG)
        .sort()
        .map((k) => [k, normalise(o[k], tmpDirs)]),
    );
  }
  return v;
}

const keyOf = (r: { type: string; name: string }) => `${r.type}::${r.name}`;

/** The graph of one mock run, sorted by `type::name`. */
export async function graphOf(run: RunResult, tmpDirs: readonly string[] = []): Promise<Record<string, GraphNode>> {
  const byResource = new Map(run.resources.map((r) => [r.resource, r]));
  const nodes: Record<string, GraphNode> = {};
  for (const r of [...run.resources].sort((a, b) => keyOf(a).localeCompare(keyOf(b)))) {
    if (r.type === "pulumi:pulumi:Stack") continue;
    const parent = r.parent ? byResource.get(r.parent) : undefined;
    const opts = r.opts;
    const options: Record<string, unknown> = {};
    if (opts.deleteBeforeReplace) options.deleteBeforeReplace = true;
    if (opts.ignoreChanges?.length) options.ignoreChanges = [...opts.ignoreChanges].sort();
    if (opts.replaceOnChanges?.length) options.replaceOnChanges = [...opts.replaceOnChanges].sort();
    if (opts.additionalSecretOutputs?.length) options.additionalSecretOutputs = [...opts.additionalSecretOutputs].sort();
    if (opts.retainOnDelete) options.retainOnDelete = true;
    if (opts.protect) options.protect = true;
    if (opts.aliases?.length) options.aliases = opts.aliases.map((a) => aliasText(a, byResource));
    const deps = [...r.deps]
      .map((d) => byResource.get(d))
      .filter((d): d is NonNullable<typeof d> => d !== undefined && d.type !== "pulumi:pulumi:Stack")
      .map(keyOf);
    nodes[keyOf(r)] = {
      type: r.type,
      name: r.name,
      ...(parent && parent.type !== "pulumi:pulumi:Stack" ? { parent: keyOf(parent) } : {}),
      ...(r.inputs ? { inputs: normalise(await settled(r.inputs), tmpDirs) } : {}),
      ...(Object.keys(options).length ? { options } : {}),
      dependsOn: [...new Set(deps)].sort(),
    };
  }
  return nodes;
}

/** An alias as text: a URN as given, or `{name, parent, type}` with the parent named like the graph names it. */
function aliasText(a: pulumi.Input<string | pulumi.Alias>, byResource: Map<pulumi.Resource, { type: string; name: string }>): string {
  if (typeof a === "string") return a;
  if (pulumi.Output.isInstance(a)) return "<output>";
  const alias = a as pulumi.Alias;
  const parts: string[] = [];
  if (alias.name !== undefined) parts.push(`name=${String(alias.name)}`);
  if (alias.type !== undefined) parts.push(`type=${String(alias.type)}`);
  // `{ parent: pulumi.rootStackResource }` is a parent key holding undefined: the stack's root (no parent).
  if (Object.prototype.hasOwnProperty.call(alias, "parent")) {
    const p = pulumi.Resource.isInstance(alias.parent) ? byResource.get(alias.parent as pulumi.Resource) : undefined;
    parts.push(
      `parent=${alias.parent === undefined ? "<stack>" : p ? (p.type === "pulumi:pulumi:Stack" ? "<stack>" : keyOf(p)) : "<urn>"}`,
    );
  }
  return `{${parts.join(", ")}}`;
}

/** The graph of a stack as the program makes it now. */
export async function stackGraph(stack: GraphStack): Promise<Record<string, GraphNode>> {
  const config = graphConfig(stack);
  const tmpDirs = [...new Set((JSON.parse(config["rayswarm:imageTarballs"] ?? "[]") as string[]).map((t) => path.dirname(t)))];
  const run = await runProgram(stack, config, program);
  return graphOf(run, tmpDirs);
}

export const graphFile = (stack: GraphStack) => path.join(GRAPH_DIR, `${stack}.json`);

/** The committed graph of a stack. */
export function committedGraph(stack: GraphStack): Record<string, GraphNode> {
  return JSON.parse(fs.readFileSync(graphFile(stack), "utf8")) as Record<string, GraphNode>;
}

/** The preview's expected counts per stack and type: what `pulumi preview` plans for a new stack (tests/engine/preview.test.ts). */
export const COUNTS_FILE = path.join(GRAPH_DIR, "counts.json");

export function countsOf(graph: Record<string, GraphNode>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of Object.values(graph)) counts[n.type] = (counts[n.type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** What differs between two graphs, one line per resource and property (empty: the same). */
export function graphDiff(before: Record<string, GraphNode>, after: Record<string, GraphNode>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(before)) if (!(k in after)) out.push(`- ${k} (gone)`);
  for (const k of Object.keys(after)) if (!(k in before)) out.push(`+ ${k} (new)`);
  for (const k of Object.keys(before)) {
    if (!(k in after)) continue;
    const a = before[k] as unknown as Record<string, unknown>;
    const b = after[k] as unknown as Record<string, unknown>;
    for (const field of ["parent", "options", "dependsOn"]) {
      if (JSON.stringify(a[field]) !== JSON.stringify(b[field]))
        out.push(`~ ${k} ${field}: ${JSON.stringify(a[field])} -> ${JSON.stringify(b[field])}`);
    }
    const ai = (a.inputs ?? {}) as Record<string, unknown>;
    const bi = (b.inputs ?? {}) as Record<string, unknown>;
    for (const p of [...new Set([...Object.keys(ai), ...Object.keys(bi)])].sort())
      if (JSON.stringify(ai[p]) !== JSON.stringify(bi[p]))
        out.push(`~ ${k} inputs.${p}: ${JSON.stringify(ai[p])} -> ${JSON.stringify(bi[p])}`);
  }
  return out;
}

async function main() {
  const write = process.argv.includes("--write");
  const stacks = process.argv.slice(2).filter((a) => !a.startsWith("--")) as GraphStack[];
  let differs = false;
  const counts: Record<string, Record<string, number>> = fs.existsSync(COUNTS_FILE) ? JSON.parse(fs.readFileSync(COUNTS_FILE, "utf8")) : {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prettier = require("prettier") as typeof import("prettier");
  const writeJson = async (file: string, value: unknown) => {
    const options = (await prettier.resolveConfig(file)) ?? {};
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, await prettier.format(JSON.stringify(value), { ...options, parser: "json" }));
  };
  for (const stack of stacks.length ? stacks : GRAPH_STACKS) {
    const now = await stackGraph(stack);
    const file = graphFile(stack);
    const before = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, GraphNode>) : {};
    const diff = graphDiff(before, now);
    console.log(`${stack}: ${Object.keys(now).length} resources, ${diff.length} differences from ${path.relative(process.cwd(), file)}`);
    for (const l of diff) console.log(`  ${l}`);
    if (diff.length) differs = true;
    counts[stack] = countsOf(now);
    if (write) await writeJson(file, now);
  }
  if (write) await writeJson(COUNTS_FILE, Object.fromEntries(GRAPH_STACKS.filter((s) => counts[s]).map((s) => [s, counts[s]])));
  process.exit(differs && !write ? 1 : 0);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
