/**
 * The project's configuration keys: one table that is the single source of truth for
 * validation (stacks/config.ts), for the `config:` block of Pulumi.yaml and for the README's
 * config reference (both checked against this table by tests/unit/config-docs.test.ts).
 */

/** The roles a machine can play (components/core/roles.ts). */
export { ROLES, Role } from "../components/core/roles";

export const ENVIRONMENTS = ["openstack", "local", "existing"] as const;
export type EnvironmentKind = (typeof ENVIRONMENTS)[number];

/** What `pulumi up` deploys: the machines and the platform on them, or the machines only. */
export const DEPLOY_MODES = ["platform", "infrastructure"] as const;
export type DeployMode = (typeof DEPLOY_MODES)[number];

/** How a key is declared in Pulumi.yaml. `object` keys cannot be typed there (Pulumi only types
 * string/integer/boolean/array) and are validated by the program alone. */
export type PulumiType = "string" | "integer" | "boolean" | "array" | "object";

export interface KeySpec {
  /** One line for Pulumi.yaml and the README. */
  readonly description: string;
  readonly type: PulumiType;
  /** The default; `undefined` means "no default" (required where the environment needs it). */
  readonly default?: string | number | boolean | readonly string[];
  /** Stored encrypted in the stack file (`pulumi config set --secret`). */
  readonly secret?: boolean;
  /** Environments that use the key; absent = all. */
  readonly environments?: readonly EnvironmentKind[];
}

const KEY_TABLE = {
  environment: {
    description:
      "Where the machines come from: openstack (new VMs), local (containers on a Docker engine) or existing (an inventory of machines you have).",
    type: "string",
    default: "local",
  },
  deploy: {
    description:
      "What `pulumi up` deploys: platform (the machines, then Ray, Swarm, serving and promotion on them) or infrastructure (the machines only: network, security groups, key pair, server groups, ports, VMs, floating IPs; nothing logs in to them).",
    type: "string",
    default: "platform",
    environments: ["openstack"],
  },
  adminCidr: {
    description: "The only CIDR allowed to SSH to the bastion (e.g. your office /32). Required for openstack; /0 is refused.",
    type: "string",
    environments: ["openstack"],
  },
  sshUser: {
    description: "Login user on the machines. Default: debian (the Debian cloud image's user) on openstack and existing, root on local.",
    type: "string",
  },
  sshPublicKey: {
    description: "OpenSSH public key installed on the machines. Unset: a per-stack ED25519 key is generated (kept as a secret).",
    type: "string",
  },
  sshPrivateKey: {
    description: "Private key matching sshPublicKey, or of the existing machines. Secret. Required with sshPublicKey and for existing.",
    type: "string",
    secret: true,
  },
  rayWorkers: {
    description: "Number of Ray worker machines besides the head (development server).",
    type: "integer",
    default: 1,
    environments: ["openstack", "local"],
  },
  swarmManagers: {
    description: "Number of Swarm managers: odd, so Raft keeps quorum (1, 3, 5, 7).",
    type: "integer",
    default: 1,
    environments: ["openstack", "local"],
  },
  swarmWorkers: {
    description: "Number of Swarm worker machines.",
    type: "integer",
    default: 1,
    environments: ["openstack", "local"],
  },
  image: {
    description: "OpenStack image name for every VM (Debian 12 cloud image).",
    type: "string",
    default: "debian-12",
    environments: ["openstack"],
  },
  externalNetwork: {
    description: "Name of the OpenStack external network that the router and the bastion's floating IP use.",
    type: "string",
    default: "public",
    environments: ["openstack"],
  },
  externalNetworkId: {
    description:
      "Id of that external network. Set: it is used as is (no lookup). Unset: looked up by name, which needs OpenStack credentials; a preview without credentials (e.g. a pull request from a fork) then shows it as unknown.",
    type: "string",
    environments: ["openstack"],
  },
  bastionFlavor: {
    description: "Flavor of the orchestration VM (bastion).",
    type: "string",
    default: "m1.small",
    environments: ["openstack"],
  },
  rayHeadFlavor: {
    description: "Flavor of the Ray head (development server).",
    type: "string",
    default: "m1.large",
    environments: ["openstack"],
  },
  rayWorkerFlavor: { description: "Flavor of the Ray workers.", type: "string", default: "m1.large", environments: ["openstack"] },
  swarmManagerFlavor: { description: "Flavor of the Swarm managers.", type: "string", default: "m1.medium", environments: ["openstack"] },
  swarmWorkerFlavor: { description: "Flavor of the Swarm workers.", type: "string", default: "m1.medium", environments: ["openstack"] },
  networkCidr: {
    description:
      "Private IPv4 CIDR of the cluster network (RFC 1918, /16 to /27). Each role has a fixed block: .10 orchestration, .11 Ray head, .12–.19 Swarm managers, the rest split between Ray workers and Swarm workers (a /24 fits 117 of each), so scaling one role never moves another.",
    type: "string",
    default: "10.42.0.0/24",
    environments: ["openstack", "local"],
  },
  dnsNameservers: {
    description: "DNS servers handed out on the private subnet.",
    type: "array",
    default: ["1.1.1.1", "9.9.9.9"],
    environments: ["openstack"],
  },
  rayVersion: {
    description: "Pinned Ray version installed on every Ray machine (must match workloads/tuning/requirements.txt).",
    type: "string",
    default: "2.60.0",
  },
  dockerVersion: {
    description: "Docker engine version prefix every machine must run (Debian's docker.io package is installed if none is present).",
    type: "string",
    default: "20.10",
  },
  servingPort: {
    description: "Port of the prediction web API on the production machines (the only port open to the world).",
    type: "integer",
    default: 8080,
  },
  apiReplicas: { description: "Replicas of the web API service.", type: "integer", default: 2 },
  workerReplicas: { description: "Replicas of the prediction task workers.", type: "integer", default: 2 },
  endpointMode: {
    description: "Swarm endpoint mode: vip (default) or dnsrr (for kernels without IPVS).",
    type: "string",
    default: "vip",
  },
  publishMode: {
    description: "How the API port is published: ingress (routing mesh, default) or host (kernels without IPVS).",
    type: "string",
    default: "ingress",
  },
  overlayEncryption: {
    description: "Encrypt the serving stack's overlay network (IPsec between nodes). Turn off only where the kernel lacks IPsec (xfrm).",
    type: "boolean",
    default: true,
  },
  servingImage: {
    description:
      "Image of the prediction service (api and worker): the one this project builds (workloads/serving), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    type: "string",
    default: "rayswarm/serving:dev",
  },
  rabbitmqImage: {
    description:
      "RabbitMQ image: the one this project builds (images/rabbitmq: Debian's rabbitmq-server), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    type: "string",
    default: "rayswarm/rabbitmq:3",
  },
  redisImage: {
    description:
      "Redis image (result backend): the one this project builds (images/redis: Debian's redis-server), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    type: "string",
    default: "rayswarm/redis:7",
  },
  imageTarballs: {
    description:
      "Local `docker save` tarballs loaded on every Swarm machine before deploying (no registry needed); the stack file names each image they carry by its image ID. Made by scripts/images/build-images.sh + save-images.sh.",
    type: "array",
    default: [],
  },
  initialTuning: {
    description: "Run a tuning job on the Ray cluster during `pulumi up` so production has a model at once.",
    type: "boolean",
    default: true,
  },
  tuningTrials: { description: "Trials of the initial tuning job.", type: "integer", default: 16 },
  tuningTimeBudget: { description: "Time budget of the initial tuning job, in seconds.", type: "integer", default: 600 },
  jupyter: {
    description: "Run JupyterLab on the Ray head, reachable only through an SSH tunnel.",
    type: "boolean",
    default: false,
  },
  modelRoot: {
    description: "Folder on the production machines holding versions/<id>/ and the `current` link.",
    type: "string",
    default: "/srv/rayswarm/models",
  },
  keepModelVersions: { description: "Model versions kept on each production machine (>= 2).", type: "integer", default: 5 },
  gateMinImprovement: {
    description:
      "Relative RMSE improvement a candidate model needs over the live one, both scored by the gate on the evaluation set every production machine holds (0.005 = 0.5 %; 0 = any improvement).",
    type: "string",
    default: "0.005",
  },
  monitoring: {
    description:
      "Prometheus + Alertmanager on the orchestration machine (reached only through the SSH tunnel of the monitoringTunnel output), node exporters everywhere, a relay in the swarm. Needs an orchestration machine.",
    type: "boolean",
    default: true,
  },
  monitoringRetention: {
    description: "How long Prometheus keeps samples: a Prometheus duration such as 15d, 12h or 2w.",
    type: "string",
    default: "15d",
  },
  monitoringWebhookUrl: {
    description: "Alertmanager webhook receiver (http(s) URL). Secret. Unset: alerts are only shown on the page, not sent.",
    type: "string",
    secret: true,
  },
  monitoringImage: {
    description:
      "Image of the in-swarm relay and Redis exporter (images/monitoring: Debian's prometheus + prometheus-redis-exporter), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    type: "string",
    default: "rayswarm/monitoring:2",
  },
  prometheusVersion: {
    description: "Exact version of Debian's prometheus package on the orchestration machine (its upstream part, e.g. 2.42.0).",
    type: "string",
    default: "2.42.0",
  },
  alertmanagerVersion: {
    description: "Exact version of Debian's prometheus-alertmanager package on the orchestration machine.",
    type: "string",
    default: "0.25.0",
  },
  nodeExporterVersion: {
    description: "Exact version of Debian's prometheus-node-exporter package on every machine.",
    type: "string",
    default: "1.5.0",
  },
  hosts: {
    description:
      "Existing machines: a list of {name, address, roles, user?, port?, privateAddress?, hostKey?}. Required for existing. hostKey (the line of /etc/ssh/ssh_host_ed25519_key.pub) makes every connection check the machine's identity; without it the host key is not checked (a warning says so).",
    type: "object",
    environments: ["existing"],
  },
  localNodeImage: {
    description: "Image of the node containers of the local environment (images/node).",
    type: "string",
    default: "rayswarm/node:dev",
    environments: ["local"],
  },
  localPipCache: {
    description:
      "Folder of this machine mounted as pip's cache (/root/.cache/pip) in every node container, so Ray's venvs reuse downloaded wheels. Unset: no cache.",
    type: "string",
    environments: ["local"],
  },
} as const satisfies Record<string, KeySpec>;

export type KeyName = keyof typeof KEY_TABLE;
export const KEYS: Readonly<Record<KeyName, KeySpec>> = KEY_TABLE;

/** The declared default of a key (undefined when it has none). */
export function defaultOf(key: KeyName): KeySpec["default"] {
  return KEYS[key].default;
}
export const PROJECT = "rayswarm";
