/**
 * The monitoring stack deployed on the swarm beside the serving stack: the relay (a
 * Prometheus inside the serving overlay, where `tasks.<service>` resolves, federated by the
 * orchestration machine) and the Redis exporter. Rendered with js-yaml; it names a Docker
 * config and a Docker secret but never holds a secret value.
 */
import { MonitoringPorts, portsOf, renderYaml } from "./config";

export interface MonitoringStackSettings {
  /** Image with Debian's prometheus and prometheus-redis-exporter (images/monitoring). */
  readonly image: string;
  /** The serving stack's name: its overlay network is `<name>_backend`, Redis `<name>_redis`. */
  readonly servingStack: string;
  /** Swarm node (hostname) that runs the relay; the orchestration machine scrapes its address. */
  readonly relayNode: string;
  /** host (kernels without IPVS) or ingress. */
  readonly publishMode: "ingress" | "host";
  readonly endpointMode: "vip" | "dnsrr";
  /** Docker config holding the relay's prometheus.yml. */
  readonly relayConfigName: string;
  /** Docker secret holding the exporter's password file ({"redis://<redis>:6379": "<password>"}). */
  readonly redisPasswordSecretName: string;
  /** Relay retention (it only bridges; the orchestration machine keeps the history). Default 2h. */
  readonly relayRetention?: string;
  readonly ports?: Partial<MonitoringPorts>;
}

/** Network name of the serving stack's overlay (stackfile.ts calls it `backend`). */
export const servingNetwork = (servingStack: string) => `${servingStack}_backend`;
/** The address the exporter's password file is keyed by. */
export const redisUri = (servingStack: string) => `redis://${servingStack}_redis:6379`;

export function buildMonitoringStack(s: MonitoringStackSettings): Record<string, unknown> {
  const ports = portsOf(s.ports);
  const restart = { condition: "any", delay: "5s", window: "60s" };
  const update = { parallelism: 1, delay: "5s", order: "stop-first", failure_action: "rollback", monitor: "20s" };
  return {
    version: "3.8",
    services: {
      relay: {
        image: s.image,
        command: [
          "prometheus",
          "--config.file=/etc/prometheus/relay.yml",
          "--storage.tsdb.path=/prometheus",
          `--storage.tsdb.retention.time=${s.relayRetention ?? "2h"}`,
          "--web.listen-address=0.0.0.0:9090",
        ],
        configs: [{ source: s.relayConfigName, target: "/etc/prometheus/relay.yml", mode: 0o444 }],
        networks: ["backend"],
        // Reached by the orchestration machine only: the relay port is open inside the cluster
        // network alone (security groups), never to the world.
        ports: [{ target: 9090, published: ports.relay, protocol: "tcp", mode: s.publishMode }],
        deploy: {
          replicas: 1,
          endpoint_mode: s.endpointMode,
          placement: { constraints: [`node.labels.rayswarm.host == ${s.relayNode}`] },
          resources: { limits: { cpus: "0.5", memory: "512M" }, reservations: { memory: "64M" } },
          restart_policy: restart,
          update_config: update,
        },
      },
      "redis-exporter": {
        image: s.image,
        command: [
          "prometheus-redis-exporter",
          `-redis.addr=${redisUri(s.servingStack)}`,
          "-redis.password-file=/run/secrets/redis-passwords.json",
          `-web.listen-address=0.0.0.0:${ports.redisExporter}`,
        ],
        // 0444: the image's exporter runs as user prometheus, not root; the container holds
        // nothing but the exporter (the serving stack's RabbitMQ config secret does the same).
        secrets: [{ source: s.redisPasswordSecretName, target: "redis-passwords.json", mode: 0o444 }],
        networks: ["backend"],
        deploy: {
          replicas: 1,
          endpoint_mode: s.endpointMode,
          resources: { limits: { cpus: "0.25", memory: "128M" }, reservations: { memory: "16M" } },
          restart_policy: restart,
          update_config: update,
        },
      },
    },
    // The serving stack's overlay: services of another stack may join it (attachable only
    // concerns `docker run` containers).
    networks: { backend: { external: true, name: servingNetwork(s.servingStack) } },
    configs: { [s.relayConfigName]: { external: true, name: s.relayConfigName } },
    secrets: { [s.redisPasswordSecretName]: { external: true, name: s.redisPasswordSecretName } },
  };
}

export function renderMonitoringStack(s: MonitoringStackSettings): string {
  return renderYaml(buildMonitoringStack(s));
}
