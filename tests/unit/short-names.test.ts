/**
 * Short names (components/core/names.ts) on stacks deployed before them: every resource a stack
 * had at 73e9b66 (tests/unit/data/former-urns.json, named by the stack: `dev-raycluster-install-dev-ray-head`)
 * is claimed by exactly one resource of the program (`raycluster-install-ray-head`), by its URN or one
 * of its aliases, so `pulumi up` renames it in place: no create, no delete, no replace.
 *
 * The claims are worked out as the engine does (pkg/resource/deploy: an alias without a parent
 * is under the resource's parent; a resource is also sought under each of its parent's former
 * URNs). The e2e (a local stack deployed at 03aff1e, then upgraded) and the OpenStack test (the
 * same ids) check the same on the real engine; this covers every stack kind, prod's 303 resources
 * among them, in a second.
 */
import * as fs from "fs";
import * as path from "path";
import { GRAPH_STACKS, GraphNode, committedGraph } from "../../tools/resource-graph";

const FORMER = JSON.parse(fs.readFileSync(path.join(__dirname, "data/former-urns.json"), "utf8")) as Record<string, string[]>;

/** `{name=x, parent=<stack>}` (tools/resource-graph.ts aliasText) as fields. */
function aliasFields(text: string): Record<string, string> {
  const body = text.replace(/^\{|\}$/g, "");
  return Object.fromEntries(
    body
      .split(", ")
      .filter(Boolean)
      .map((part) => {
        const i = part.indexOf("=");
        return [part.slice(0, i), part.slice(i + 1)];
      }),
  );
}

/** Every URN (without stack and project) the engine looks a resource up by: its own, then its aliases'. */
function claimsOf(graph: Record<string, GraphNode>): Map<string, Set<string>> {
  const memo = new Map<string, Set<string>>();
  const typeChain = (key: string): string => {
    const n = graph[key];
    return n.parent ? `${typeChain(n.parent)}$${n.type}` : n.type;
  };
  const urns = (key: string): Set<string> => {
    const known = memo.get(key);
    if (known) return known;
    const n = graph[key];
    // The parent's type chains: now, and under each URN the parent was known by.
    const parents = n.parent
      ? new Set([typeChain(n.parent), ...[...urns(n.parent)].map((u) => u.slice(0, u.lastIndexOf("::")))])
      : new Set([""]);
    const out = new Set<string>();
    const specs = [{}, ...((n.options?.aliases as string[] | undefined) ?? []).map(aliasFields)] as Record<string, string>[];
    for (const spec of specs) {
      const name = spec.name ?? n.name;
      if (spec.parent === "<stack>") out.add(`${n.type}::${name}`);
      else if (spec.parent === undefined) for (const p of parents) out.add(`${p ? `${p}$` : ""}${n.type}::${name}`);
      else throw new Error(`${key}: alias ${JSON.stringify(spec)} has a parent this test does not model`);
    }
    memo.set(key, out);
    return out;
  };
  return new Map(Object.keys(graph).map((k) => [k, urns(k)]));
}

describe.each(GRAPH_STACKS)("the %s stack deployed at 73e9b66", (stack) => {
  const graph = committedGraph(stack);
  const former = new Set(FORMER[stack]);
  const claims = claimsOf(graph);

  test("no logical name starts with the stack (the local environment is named by its kind, `local`)", () => {
    const named = Object.values(graph).filter((n) => n.name.startsWith(`${stack}-`));
    expect(named.map((n) => n.name)).toEqual([]);
  });

  test("each resource of the program claims exactly one former resource", () => {
    const wrong = [...claims]
      .map(([k, urns]) => [k, [...urns].filter((u) => former.has(u))] as const)
      .filter(([, hit]) => hit.length !== 1);
    expect(wrong).toEqual([]);
    expect(claims.size).toBe(former.size);
  });

  test("each former resource is claimed by exactly one resource (nothing deleted, nothing created)", () => {
    const by = new Map<string, string[]>();
    for (const [k, urns] of claims) for (const u of urns) if (former.has(u)) by.set(u, [...(by.get(u) ?? []), k]);
    expect([...former].filter((u) => by.get(u)?.length !== 1)).toEqual([]);
  });
});

test("the model of the engine's claims finds a missing alias", () => {
  const graph = committedGraph("local");
  const key = Object.keys(graph).find((k) => k.endsWith("::raycluster-install-ray-head"))!;
  const broken = { ...graph, [key]: { ...graph[key], options: { ...graph[key].options, aliases: [] } } };
  const urns = claimsOf(broken).get(key)!;
  expect([...urns].some((u) => FORMER.local.includes(u))).toBe(false);
  expect(claimsOf(graph).get(key)).toContain(
    "rayswarm:platform:Platform$rayswarm:ray:RayCluster$command:remote:Command::local-raycluster-install-local-ray-head",
  );
});
