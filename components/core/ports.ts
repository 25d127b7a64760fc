/**
 * Every port the platform uses, in one table: the security rules (components/openstack/security.ts),
 * the components that pass ports to scripts (Ray, Swarm, monitoring) and the config check that the
 * serving port collides with none of them (stacks/config/keys.ts) read it from here.
 * The scripts keep no copy: RayCluster passes `ray start`'s port options (rayStartPortArgs) to
 * ray-head.sh and ray-worker.sh, SwarmCluster the management port to swarm-init.sh and swarm-join.sh.
 */

export const SSH_PORT = 22;
/** The Docker engine's API (plain, TLS): never opened, and not for serving either. */
export const DOCKER_API_PORTS = { plain: 2375, tls: 2376 } as const;

/** Ports Ray uses between its nodes besides the worker range (see scripts/host/ray-*.sh). */
export const RAY_PORTS = {
  gcs: 6379,
  dashboard: 8265,
  client: 10001,
  nodeManager: 6380,
  objectManager: 6381,
  dashboardAgent: 52365,
  dashboardAgentGrpc: 52366,
  runtimeEnvAgent: 52367,
};
/**
 * Ray's metrics export on every Ray node (`ray start --metrics-export-port`, rayStartPortArgs; the
 * monitoring's `ray` job, MONITORING_PORTS.ray). Not between Ray nodes: only the bastion's
 * Prometheus reads it.
 */
export const RAY_METRICS_PORT = 8090;
export const RAY_WORKER_PORTS: readonly [number, number] = [10002, 10999];

/**
 * `ray start`'s port options for a node, so the security rules can allow exactly these (Ray's
 * defaults are random): every node's, and on the head the client server's too. GCS and the
 * dashboard are ray-head.sh's own arguments.
 */
export function rayStartPortArgs(role: "head" | "worker"): string[] {
  // The head's client server first: the order is the unit's ExecStart line (a new order restarts Ray).
  const ports: [string, number][] = role === "head" ? [["--ray-client-server-port", RAY_PORTS.client]] : [];
  ports.push(
    ["--node-manager-port", RAY_PORTS.nodeManager],
    ["--object-manager-port", RAY_PORTS.objectManager],
    ["--min-worker-port", RAY_WORKER_PORTS[0]],
    ["--max-worker-port", RAY_WORKER_PORTS[1]],
    ["--metrics-export-port", RAY_METRICS_PORT],
    ["--dashboard-agent-listen-port", RAY_PORTS.dashboardAgent],
    ["--dashboard-agent-grpc-port", RAY_PORTS.dashboardAgentGrpc],
    ["--runtime-env-agent-port", RAY_PORTS.runtimeEnvAgent],
  );
  return ports.flatMap(([flag, port]) => [flag, String(port)]);
}

export const SWARM_PORTS = { management: 2377, gossip: 7946, overlay: 4789 };
export const RABBITMQ_PORT = 5672;
export const REDIS_PORT = 6379;

/** Ports of the monitoring pieces. */
export const MONITORING_PORTS = {
  /** Prometheus on the orchestration machine (private address). */
  prometheus: 9090,
  /** Alertmanager on the orchestration machine (private address). */
  alertmanager: 9093,
  /** prometheus-node-exporter on every machine (private address). */
  nodeExporter: 9100,
  /** The in-swarm relay's /federate, published on the swarm (blocked from the world). */
  relay: 9091,
  /** Ray's metrics export on every Ray node (rayStartPortArgs). */
  ray: RAY_METRICS_PORT,
  /** Inside the overlay: the serving processes' /metrics, the Redis exporter, rabbitmq_prometheus. */
  serving: 8080,
  redisExporter: 9121,
  rabbitmq: 15692,
} as const;

/** Ports the cluster uses internally, by what uses them; the serving port must not collide with them. */
export const INTERNAL_PORTS: Readonly<Record<number, string>> = {
  [SSH_PORT]: "SSH",
  [DOCKER_API_PORTS.plain]: "the Docker API",
  [DOCKER_API_PORTS.tls]: "the Docker API",
  [SWARM_PORTS.management]: "Swarm management",
  [SWARM_PORTS.overlay]: "the Swarm overlay (VXLAN)",
  [RABBITMQ_PORT]: "RabbitMQ",
  [RAY_PORTS.gcs]: "Ray GCS / Redis",
  [SWARM_PORTS.gossip]: "Swarm gossip",
  [RAY_PORTS.dashboard]: "the Ray dashboard",
  [RAY_PORTS.client]: "the Ray client server",
};
