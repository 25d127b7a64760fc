/**
 * Renders the orchestration machine's files for a topology into a folder, for checks with the
 * real tools (.ci/monitoring.sh):
 *   ts-node --transpile-only components/monitoring/cli.ts <out-dir> [topology.json]
 * topology.json: { stack, machines: [{name, roles, address}], listenAddress, relayTarget?,
 *   ports?, webhook?, expectations? }. Without it: the `dev` layout on 10.42.0.0/24.
 * Also writes the machines' file_sd target files (targets/<job>/<machine>.json, what the
 * component's per-machine steps drop in /etc/prometheus/targets), relay.yml and
 * monitoring-stack.yml (the swarm side).
 */
import * as fs from "fs";
import * as path from "path";
import { DEFAULT_THRESHOLDS, Expectations, machineTargets, MonitoringPorts, MonitoredMachine, relayConfig, renderYaml } from "./config";
import { orchestrationFiles } from "./render";
import { renderMonitoringStack } from "./stackfile";

export interface CliTopology {
  readonly stack: string;
  readonly machines: readonly MonitoredMachine[];
  readonly listenAddress: string;
  readonly relayTarget?: string;
  readonly ports?: Partial<MonitoringPorts>;
  readonly webhook?: boolean;
  readonly expectations?: Partial<Expectations>;
  readonly scrapeInterval?: string;
}

export const DEV_TOPOLOGY: CliTopology = {
  stack: "dev",
  machines: [
    { name: "dev-orchestration", roles: ["orchestration"], address: "10.42.0.10" },
    { name: "dev-ray-head", roles: ["ray-head"], address: "10.42.0.11" },
    { name: "dev-ray-worker-0", roles: ["ray-worker"], address: "10.42.0.12" },
    { name: "dev-swarm-manager-0", roles: ["swarm-manager"], address: "10.42.0.13" },
    { name: "dev-swarm-worker-0", roles: ["swarm-worker"], address: "10.42.0.14" },
  ],
  listenAddress: "10.42.0.10",
  relayTarget: "10.42.0.13:9091",
  webhook: true,
};

export function renderTopology(out: string, t: CliTopology): string[] {
  const files = orchestrationFiles({
    prometheus: {
      stack: t.stack,
      listenAddress: t.listenAddress,
      relayTarget: t.relayTarget,
      ports: t.ports,
      scrapeInterval: t.scrapeInterval,
    },
    webhook: t.webhook ?? false,
    expectations: { stack: t.stack, apiReplicas: 2, workerReplicas: 2, ...DEFAULT_THRESHOLDS, ...(t.expectations ?? {}) },
  });
  for (const m of t.machines)
    for (const f of machineTargets(m, { ports: t.ports })) files.push({ path: `targets/${f.path}`, content: f.content, mode: "0644" });
  files.push({
    path: "relay.yml",
    content: renderYaml(relayConfig({ servingStack: "rayswarm", monitoringStack: "rayswarm-monitoring" })),
    mode: "0644",
  });
  files.push({
    path: "monitoring-stack.yml",
    content: renderMonitoringStack({
      image: "rayswarm/monitoring:latest",
      servingStack: "rayswarm",
      relayNode: t.machines.find((m) => m.roles.includes("swarm-manager"))?.name ?? "manager",
      publishMode: "ingress",
      endpointMode: "vip",
      relayConfigName: "rayswarm-monitoring_relay_0123456789",
      redisPasswordSecretName: "rayswarm-monitoring_redis_passwords_0123456789",
    }),
    mode: "0644",
  });
  for (const f of files) {
    const p = path.join(out, f.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, f.content, { mode: 0o644 });
  }
  return files.map((f) => f.path);
}

if (require.main === module) {
  const [out, topo] = process.argv.slice(2);
  if (!out) {
    console.error("usage: cli.ts <out-dir> [topology.json]");
    process.exit(2);
  }
  const t = topo ? (JSON.parse(fs.readFileSync(topo, "utf8")) as CliTopology) : DEV_TOPOLOGY;
  for (const f of renderTopology(out, t)) console.log(path.join(out, f));
}
