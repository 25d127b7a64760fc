/**
 * Pure generators of the monitoring configuration: the Prometheus and Alertmanager files of
 * the orchestration machine, the in-swarm relay's Prometheus file and the expectation rules.
 * They take resolved values (no Outputs) so tests and .ci/monitoring.sh can run them alone.
 * Nothing generated here holds a secret: alertmanager.yml carries WEBHOOK_PLACEHOLDER, which
 * scripts/monitoring/prometheus.sh replaces on the machine with the URL it reads from stdin
 * (Alertmanager 0.25, bookworm's, has no `url_file`; 0.26 does).
 */
import * as yaml from "js-yaml";
import { MONITORING_PORTS } from "../core/ports";
import type { Role } from "../core/roles";

/** Ports of the monitoring pieces (components/core/ports.ts). */
export { MONITORING_PORTS } from "../core/ports";

export type MonitoringPorts = { readonly [K in keyof typeof MONITORING_PORTS]: number };

/** Where the files land on the orchestration machine (Debian's paths). */
export const PROMETHEUS_PATHS = {
  config: "/etc/prometheus/prometheus.yml",
  rulesDir: "/etc/prometheus/rules",
  consolesDir: "/etc/prometheus/consoles",
  alertmanagerConfig: "/etc/prometheus/alertmanager.yml",
  /** file_sd target files, one per machine and job: `<targetsDir>/<job>/<machine>.json`. */
  targetsDir: "/etc/prometheus/targets",
} as const;

/** Jobs whose targets are machines, listed by file_sd target files (one per machine). */
export const MACHINE_JOBS = ["node", "ray"] as const;
export type MachineJob = (typeof MACHINE_JOBS)[number];

/** Stands for the webhook URL in the generated alertmanager.yml (replaced on the machine). */
export const WEBHOOK_PLACEHOLDER = "__RAYSWARM_WEBHOOK_URL__";

/** The queue the serving stack uses (components/serving/stackfile.ts QUEUE_NAME). */
export const PREDICTION_QUEUE = "predictions";
/** Jobs the relay scrapes inside the swarm and the orchestration machine federates. */
export const SWARM_JOBS = ["api", "worker", "rabbitmq", "rabbitmq-queues", "redis"] as const;
/** Console page of the operator view. */
export const CONSOLE_PAGE = "rayswarm.html";

export interface MonitoredMachine {
  /** Machine name (Host.name): the `instance` label of its node and Ray targets. */
  readonly name: string;
  readonly roles: readonly Role[];
  /** Private address. */
  readonly address: string;
}

export interface PrometheusSettings {
  /** Stack name, an external label of every series and alert. */
  readonly stack: string;
  /** Private address of the orchestration machine: Prometheus and Alertmanager listen there. */
  readonly listenAddress: string;
  /** Scrape Ray's metrics export on the Ray machines (needs ray[default] there: the tuning requirements pin it). Default: true. */
  readonly rayMetrics?: boolean;
  /** Address:port of the in-swarm relay's /federate (absent: no swarm scraping). */
  readonly relayTarget?: string;
  readonly scrapeInterval?: string;
  readonly ports?: Partial<MonitoringPorts>;
}

export function portsOf(p?: Partial<MonitoringPorts>): MonitoringPorts {
  return { ...MONITORING_PORTS, ...(p ?? {}) };
}

const federateMatch = `{job=~"${SWARM_JOBS.join("|")}"}`;

/** Where a machine's target file of `job` lands on the orchestration machine. */
export const targetFilePath = (job: MachineJob, machine: string) => `${PROMETHEUS_PATHS.targetsDir}/${job}/${machine}.json`;

export interface MachineTargetSettings {
  /** Scrape Ray's metrics export on the Ray machines (needs ray[default] there: the tuning requirements pin it). Default: true. */
  readonly rayMetrics?: boolean;
  readonly ports?: Partial<MonitoringPorts>;
}

/**
 * A machine's file_sd target files (`<job>/<machine>.json`, relative to PROMETHEUS_PATHS.targetsDir):
 * `node` on every machine, `ray` on Ray machines. One file per machine, so adding a machine adds
 * a file and changes nothing else (Prometheus's file_sd picks it up without a restart).
 */
export function machineTargets(m: MonitoredMachine, s: MachineTargetSettings = {}): { job: MachineJob; path: string; content: string }[] {
  const ports = portsOf(s.ports);
  const group = (port: number) =>
    JSON.stringify(
      [
        {
          targets: [`${m.address}:${port}`],
          labels: { instance: m.name, roles: m.roles.join(","), production: String(m.roles.some((r) => r.startsWith("swarm-"))) },
        },
      ],
      null,
      2,
    ) + "\n";
  const out: { job: MachineJob; path: string; content: string }[] = [
    { job: "node", path: `node/${m.name}.json`, content: group(ports.nodeExporter) },
  ];
  if (s.rayMetrics !== false && (m.roles.includes("ray-head") || m.roles.includes("ray-worker")))
    out.push({ job: "ray", path: `ray/${m.name}.json`, content: group(ports.ray) });
  return out;
}

/**
 * The orchestration machine's prometheus.yml. It names no machine: the `node` and `ray` jobs read
 * the per-machine target files (machineTargets) from PROMETHEUS_PATHS.targetsDir, so scaling out
 * never changes this file.
 */
export function prometheusConfig(s: PrometheusSettings): Record<string, unknown> {
  const ports = portsOf(s.ports);
  const fileSd = (job: MachineJob) => [{ files: [`${PROMETHEUS_PATHS.targetsDir}/${job}/*.json`], refresh_interval: "30s" }];
  const scrape: Record<string, unknown>[] = [
    { job_name: "prometheus", static_configs: [{ targets: [`${s.listenAddress}:${ports.prometheus}`] }] },
    { job_name: "alertmanager", static_configs: [{ targets: [`${s.listenAddress}:${ports.alertmanager}`] }] },
    { job_name: "node", file_sd_configs: fileSd("node") },
  ];
  if (s.rayMetrics !== false) scrape.push({ job_name: "ray", file_sd_configs: fileSd("ray") });
  if (s.relayTarget)
    scrape.push({
      // The relay runs inside the swarm overlay, where `tasks.<service>` resolves; it keeps
      // the jobs' own labels (honor_labels) and its `up` series of every task.
      job_name: "swarm-relay",
      honor_labels: true,
      metrics_path: "/federate",
      params: { "match[]": [federateMatch] },
      static_configs: [{ targets: [s.relayTarget] }],
    });
  return {
    global: {
      scrape_interval: s.scrapeInterval ?? "15s",
      evaluation_interval: s.scrapeInterval ?? "15s",
      external_labels: { stack: s.stack },
    },
    rule_files: [`${PROMETHEUS_PATHS.rulesDir}/*.yml`],
    alerting: { alertmanagers: [{ static_configs: [{ targets: [`${s.listenAddress}:${ports.alertmanager}`] }] }] },
    scrape_configs: scrape,
  };
}

export interface RelaySettings {
  /** The serving stack's name (`docker stack deploy <name>`): services are `<name>_api`, … */
  readonly servingStack: string;
  /** The monitoring stack's name: its Redis exporter is `<name>_redis-exporter`. */
  readonly monitoringStack: string;
  readonly scrapeInterval?: string;
  readonly ports?: Partial<MonitoringPorts>;
}

/** The relay's prometheus.yml: Swarm DNS discovery of every task, from inside the overlay. */
export function relayConfig(s: RelaySettings): Record<string, unknown> {
  const ports = portsOf(s.ports);
  const dns = (job: string, service: string, port: number, extra: Record<string, unknown> = {}) => ({
    job_name: job,
    dns_sd_configs: [{ names: [`tasks.${service}`], type: "A", port, refresh_interval: "15s" }],
    // The task's address is its identity; keep which service it belongs to.
    relabel_configs: [{ target_label: "swarm_service", replacement: service }],
    ...extra,
  });
  return {
    global: { scrape_interval: s.scrapeInterval ?? "15s", evaluation_interval: s.scrapeInterval ?? "15s" },
    scrape_configs: [
      dns("api", `${s.servingStack}_api`, ports.serving),
      dns("worker", `${s.servingStack}_worker`, ports.serving),
      dns("rabbitmq", `${s.servingStack}_rabbitmq`, ports.rabbitmq),
      dns("rabbitmq-queues", `${s.servingStack}_rabbitmq`, ports.rabbitmq, {
        metrics_path: "/metrics/detailed",
        params: { family: ["queue_coarse_metrics", "queue_consumer_count"] },
      }),
      dns("redis", `${s.monitoringStack}_redis-exporter`, ports.redisExporter),
    ],
  };
}

export interface AlertmanagerSettings {
  /** A webhook receiver is configured (its URL replaces WEBHOOK_PLACEHOLDER on the machine). */
  readonly webhook: boolean;
}

/** alertmanager.yml. The webhook URL is never in it: WEBHOOK_PLACEHOLDER stands for it. */
export function alertmanagerConfig(s: AlertmanagerSettings): Record<string, unknown> {
  return {
    route: {
      receiver: "default",
      group_by: ["alertname", "stack", "instance"],
      group_wait: "30s",
      group_interval: "5m",
      repeat_interval: "4h",
    },
    receivers: [
      s.webhook ? { name: "default", webhook_configs: [{ url: WEBHOOK_PLACEHOLDER, send_resolved: true }] } : { name: "default" },
    ],
    inhibit_rules: [
      // A machine that is down explains everything else on it.
      { source_matchers: ['alertname="MachineDown"'], target_matchers: ['alertname!="MachineDown"'], equal: ["instance"] },
    ],
  };
}

export interface Expectations {
  /** Stack name, shown on the operator page (`rayswarm:stack_info{stack}`). */
  readonly stack: string;
  /** Worker replicas that should consume the prediction queue. */
  readonly workerReplicas: number;
  /** API replicas that should answer. */
  readonly apiReplicas: number;
  /** Ready messages in the prediction queue above which QueueBacklog fires. */
  readonly queueDepth: number;
  /** Estimated wait (seconds) of a new task above which QueueWaitHigh fires. */
  readonly queueWaitSeconds: number;
  /** The serving target: p99 latency of the prediction routes, seconds. */
  readonly p99Seconds: number;
  /** Share of API answers that are 5xx above which Api5xxRate fires (0..1). */
  readonly errorRatio: number;
}

export type Thresholds = Pick<Expectations, "queueDepth" | "queueWaitSeconds" | "p99Seconds" | "errorRatio">;
export const DEFAULT_THRESHOLDS: Thresholds = { queueDepth: 1000, queueWaitSeconds: 60, p99Seconds: 0.05, errorRatio: 0.05 };

/**
 * The topology's numbers as recording rules (`rayswarm:expected_*`, `rayswarm:threshold_*`),
 * so the alert rules in rules/*.yml stay static files that promtool tests. No machine count is
 * here: the configured machines are the file_sd targets (`count(up{job="ray"})`), one file per
 * machine, so a new machine adds a step and changes not this file (scale-out only adds).
 */
export function expectationRules(e: Expectations): Record<string, unknown> {
  const rec = (record: string, value: number) => ({ record, expr: `vector(${value})` });
  return {
    groups: [
      {
        name: "rayswarm-expectations",
        rules: [
          { record: "rayswarm:stack_info", expr: "vector(1)", labels: { stack: e.stack } },
          rec("rayswarm:expected_worker_replicas", e.workerReplicas),
          rec("rayswarm:expected_api_replicas", e.apiReplicas),
          rec("rayswarm:threshold_queue_depth", e.queueDepth),
          rec("rayswarm:threshold_queue_wait_seconds", e.queueWaitSeconds),
          rec("rayswarm:threshold_p99_seconds", e.p99Seconds),
          rec("rayswarm:threshold_error_ratio", e.errorRatio),
        ],
      },
    ],
  };
}

/** Renders a config object the way every generated file is written (stable, no refs). */
export function renderYaml(doc: unknown): string {
  return yaml.dump(JSON.parse(JSON.stringify(doc)), { lineWidth: -1, noRefs: true, sortKeys: false });
}
