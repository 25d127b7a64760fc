/**
 * npm run critical-path: from the resource graph of a mock run, the number of sequential
 * stages from nothing to (a) the serving stack converged and (b) the first model live on
 * production, for dev, prod and with 1 vs 10 workers per role. A stage is one custom resource
 * (a VM, a remote command...) on the longest dependency chain; component resources only group.
 * The figure must not grow with the worker count: workers bootstrap in parallel.
 */
import { program } from "../stacks/program";
import { Recorded, RunResult, runProgram, stackConfig } from "./mock-run";

export function longestChain(run: RunResult, target: Recorded): Recorded[] {
  const memo = new Map<Recorded, Recorded[]>();
  const custom = (r: Recorded) => !r.type.startsWith("rayswarm:") && r.type !== "pulumi:pulumi:Stack";
  const chain = (r: Recorded): Recorded[] => {
    const hit = memo.get(r);
    if (hit) return hit;
    memo.set(r, []); // cycle guard (there are none; dependencies form a DAG)
    let best: Recorded[] = [];
    for (const d of run.dependsOnTransitively(r)) {
      if (!custom(d)) continue;
      // only direct predecessors matter for the longest path; transitive ones are shorter
      const c = chain(d);
      if (c.length > best.length) best = c;
    }
    const out = custom(r) ? [...best, r] : best;
    memo.set(r, out);
    return out;
  };
  return chain(target);
}

export interface CriticalPath {
  readonly label: string;
  readonly machines: number;
  readonly resources: number;
  readonly toServing: number;
  readonly toFirstModel: number;
  readonly chain: string[];
}

export async function criticalPath(label: string, stack: string, config: Record<string, string>): Promise<CriticalPath> {
  const run = await runProgram(stack, config, program);
  const serving = longestChain(run, run.byName("serving-deploy"));
  const model = longestChain(run, run.byName("promotion-promote-initial"));
  return {
    label,
    machines: run.ofType("openstack:compute/instance:Instance").length,
    resources: run.resources.filter((r) => !r.type.startsWith("rayswarm:")).length,
    toServing: serving.length,
    toFirstModel: model.length,
    chain: model.map((r) => r.name),
  };
}

export const SCENARIOS: [string, string, Record<string, string>][] = [
  ["dev (1 worker per role)", "dev", stackConfig("dev")],
  ["prod (3 managers, 3+3 workers)", "prod", stackConfig("prod")],
  ["dev with 10 workers per role", "dev", { ...stackConfig("dev"), "rayswarm:rayWorkers": "10", "rayswarm:swarmWorkers": "10" }],
  ["prod with 10 workers per role", "prod", { ...stackConfig("prod"), "rayswarm:rayWorkers": "10", "rayswarm:swarmWorkers": "10" }],
];

async function main() {
  const rows: CriticalPath[] = [];
  for (const [label, stack, config] of SCENARIOS) rows.push(await criticalPath(label, stack, config));
  console.log("| scenario | machines | resources | stages to serving | stages to first model |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.label} | ${r.machines} | ${r.resources} | ${r.toServing} | ${r.toFirstModel} |`);
  console.log("\nlongest chain (dev, to the first model):\n  " + rows[0].chain.join("\n  -> "));
  process.exit(0);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
