/**
 * The Swarm stack file of the prediction service, built from typed definitions and rendered
 * with js-yaml. It names Docker secrets but never holds a secret value.
 */
import * as yaml from "js-yaml";

export interface ServiceDeploy {
  mode?: "replicated" | "global";
  replicas?: number;
  endpoint_mode: "vip" | "dnsrr";
  placement?: { constraints?: string[]; max_replicas_per_node?: number };
  resources: { limits: { cpus: string; memory: string }; reservations?: { cpus?: string; memory: string } };
  restart_policy: { condition: "any" | "on-failure"; delay: string; max_attempts?: number; window: string };
  update_config: {
    parallelism: number;
    delay: string;
    order: "start-first" | "stop-first";
    failure_action: "rollback" | "pause";
    monitor: string;
    max_failure_ratio: number;
  };
  rollback_config: {
    parallelism: number;
    delay: string;
    order: "start-first" | "stop-first";
    failure_action: "pause" | "continue";
    monitor: string;
  };
  labels?: Record<string, string>;
}

export interface ServiceSecret {
  source: string;
  target: string;
  uid?: string;
  gid?: string;
  mode: number;
}

export interface ServiceSpec {
  image: string;
  command?: string[];
  environment?: Record<string, string>;
  secrets?: ServiceSecret[];
  volumes?: ({ type: "bind"; source: string; target: string; read_only: boolean } | { type: "volume"; source: string; target: string })[];
  ports?: { target: number; published: number; protocol: "tcp"; mode: "ingress" | "host" }[];
  networks: string[];
  healthcheck: { test: string[]; interval: string; timeout: string; retries: number; start_period: string };
  stop_grace_period?: string;
  deploy: ServiceDeploy;
}

export interface StackFile {
  version: "3.8";
  services: Record<string, ServiceSpec>;
  networks: Record<string, { driver: "overlay"; driver_opts?: Record<string, string>; attachable: boolean }>;
  volumes: Record<string, Record<string, never>>;
  secrets: Record<string, { external: true; name: string }>;
}

export interface StackSettings {
  /** Images. */
  readonly images: { readonly serving: string; readonly rabbitmq: string; readonly redis: string };
  readonly apiReplicas: number;
  readonly workerReplicas: number;
  /** Published API port. */
  readonly port: number;
  readonly endpointMode: "vip" | "dnsrr";
  readonly publishMode: "ingress" | "host";
  /** Host folder with versions/ and `current`, mounted read-only into api and worker. */
  readonly modelRoot: string;
  /** Encrypt the overlay network. */
  readonly encryptOverlay: boolean;
  /** Node (hostname) that keeps RabbitMQ's and Redis's volumes. */
  readonly stateNode: string;
  /** Docker secret names (versioned: a new value gets a new name). */
  readonly secretNames: {
    readonly amqpPassword: string;
    readonly rabbitmqConf: string;
    readonly redisPassword: string;
    readonly redisConf: string;
  };
}

/** Where things sit inside the serving containers. */
export const IN_CONTAINER = { modelDir: "/srv/models", port: 8080, uid: "10001" };
export const AMQP_USER = "rayswarm";

export function buildStackFile(s: StackSettings): StackFile {
  const network = "backend";
  // A host-mode port can be bound by one task per node: no start-first there.
  const hostPorts = s.publishMode === "host";
  const update = (order: "start-first" | "stop-first"): ServiceDeploy["update_config"] => ({
    parallelism: 1,
    delay: "5s",
    order,
    failure_action: "rollback",
    monitor: "20s",
    max_failure_ratio: 0,
  });
  const rollback = (order: "start-first" | "stop-first"): ServiceDeploy["rollback_config"] => ({
    parallelism: 1,
    delay: "0s",
    order,
    failure_action: "pause",
    monitor: "20s",
  });
  const restart: ServiceDeploy["restart_policy"] = { condition: "any", delay: "3s", window: "60s" };
  const servingSecret = (source: string, target: string): ServiceSecret => ({
    source,
    target,
    uid: IN_CONTAINER.uid,
    gid: IN_CONTAINER.uid,
    mode: 0o400,
  });
  const servingEnv = (role: string): Record<string, string> => ({
    ROLE: role,
    PORT: String(IN_CONTAINER.port),
    AMQP_HOST: "rabbitmq",
    AMQP_USER,
    AMQP_PASSWORD_FILE: "/run/secrets/amqp_password",
    REDIS_HOST: "redis",
    REDIS_PASSWORD_FILE: "/run/secrets/redis_password",
    MODEL_DIR: IN_CONTAINER.modelDir,
    QUEUE_NAME: "predictions",
  });
  const modelMount = { type: "bind" as const, source: s.modelRoot, target: IN_CONTAINER.modelDir, read_only: true };
  // Liveness only (/healthz answers while the event loop runs). Each probe starts a Node
  // process; on a starved machine (load 20+ on 2 cores, seen in the e2e's scale-out) that took
  // over 3 s, three probes in a row "failed" and Swarm killed healthy API tasks. 10 s like the
  // broker's: a hung task is still replaced within about a minute.
  const nodeHealth = {
    test: [
      "CMD",
      "node",
      "-e",
      `fetch('http://127.0.0.1:${IN_CONTAINER.port}/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
    ],
    interval: "10s",
    timeout: "10s",
    retries: 3,
    start_period: "30s",
  };
  const onStateNode = { constraints: [`node.labels.rayswarm.host == ${s.stateNode}`] };

  return {
    version: "3.8",
    services: {
      rabbitmq: {
        image: s.images.rabbitmq,
        secrets: [{ source: s.secretNames.rabbitmqConf, target: "/etc/rabbitmq/conf.d/20-credentials.conf", mode: 0o444 }],
        volumes: [{ type: "volume", source: "rabbitmq-data", target: "/var/lib/rabbitmq" }],
        networks: [network],
        healthcheck: {
          test: ["CMD", "rabbitmq-diagnostics", "-q", "check_running"],
          interval: "10s",
          timeout: "10s",
          retries: 5,
          start_period: "60s",
        },
        stop_grace_period: "60s",
        deploy: {
          replicas: 1,
          endpoint_mode: s.endpointMode,
          placement: onStateNode,
          resources: { limits: { cpus: "1.0", memory: "1G" }, reservations: { memory: "256M" } },
          restart_policy: restart,
          update_config: update("stop-first"), // one broker owns the volume
          rollback_config: rollback("stop-first"),
        },
      },
      redis: {
        image: s.images.redis,
        command: ["redis-server", "/run/secrets/redis.conf"],
        secrets: [{ source: s.secretNames.redisConf, target: "redis.conf", mode: 0o444 }],
        volumes: [{ type: "volume", source: "redis-data", target: "/data" }],
        networks: [network],
        healthcheck: {
          test: ["CMD-SHELL", "redis-cli ping 2>&1 | grep -qE 'PONG|NOAUTH'"],
          interval: "10s",
          timeout: "5s",
          retries: 3,
          start_period: "10s",
        },
        deploy: {
          replicas: 1,
          endpoint_mode: s.endpointMode,
          placement: onStateNode,
          resources: { limits: { cpus: "0.5", memory: "512M" }, reservations: { memory: "64M" } },
          restart_policy: restart,
          update_config: update("stop-first"),
          rollback_config: rollback("stop-first"),
        },
      },
      api: {
        image: s.images.serving,
        command: ["api"],
        environment: servingEnv("api"),
        secrets: [servingSecret(s.secretNames.amqpPassword, "amqp_password"), servingSecret(s.secretNames.redisPassword, "redis_password")],
        volumes: [modelMount],
        ports: [{ target: IN_CONTAINER.port, published: s.port, protocol: "tcp", mode: s.publishMode }],
        networks: [network],
        healthcheck: nodeHealth,
        stop_grace_period: "30s",
        deploy: {
          replicas: s.apiReplicas,
          endpoint_mode: s.endpointMode,
          placement: hostPorts ? { max_replicas_per_node: 1 } : undefined,
          resources: { limits: { cpus: "1.0", memory: "512M" }, reservations: { memory: "128M" } },
          restart_policy: restart,
          update_config: update(hostPorts ? "stop-first" : "start-first"),
          rollback_config: rollback(hostPorts ? "stop-first" : "start-first"),
        },
      },
      worker: {
        image: s.images.serving,
        command: ["worker"],
        environment: servingEnv("worker"),
        secrets: [servingSecret(s.secretNames.amqpPassword, "amqp_password"), servingSecret(s.secretNames.redisPassword, "redis_password")],
        volumes: [modelMount],
        networks: [network],
        healthcheck: nodeHealth,
        stop_grace_period: "40s", // finish in-flight tasks on SIGTERM
        deploy: {
          replicas: s.workerReplicas,
          endpoint_mode: s.endpointMode,
          resources: { limits: { cpus: "1.0", memory: "1G" }, reservations: { memory: "256M" } },
          restart_policy: restart,
          update_config: update("start-first"),
          rollback_config: rollback("start-first"),
        },
      },
    },
    networks: {
      [network]: { driver: "overlay", ...(s.encryptOverlay ? { driver_opts: { encrypted: "" } } : {}), attachable: false },
    },
    volumes: { "rabbitmq-data": {}, "redis-data": {} },
    secrets: Object.fromEntries(Object.values(s.secretNames).map((n) => [n, { external: true as const, name: n }])),
  };
}

export function renderStackFile(f: StackFile): string {
  // Drop undefined fields (js-yaml would fail on them) and keep key order stable.
  const clean = JSON.parse(JSON.stringify(f)) as StackFile;
  return yaml.dump(clean, { lineWidth: -1, noRefs: true, sortKeys: false });
}
