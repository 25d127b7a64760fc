/**
 * The project's configuration keys, each declared once: its kind of value (a zod schema from
 * stacks/config/values.ts, with its range), default, secrecy, the environments that use it and
 * its documentation. The reader (stacks/config/reader.ts), the `config:` block of Pulumi.yaml
 * and the README's config reference (tools/config-docs.ts, checked by
 * tests/unit/config-docs.test.ts) are all derived from this table.
 */
import { INTERNAL_PORTS } from "../../components/core/ports";
import { inventory } from "./inventory";
import * as v from "./values";
import { PulumiType, Value, integer, oneOf, refined } from "./values";

export const PROJECT = "rayswarm";

export const ENVIRONMENTS = ["openstack", "local", "existing"] as const;
export type EnvironmentKind = (typeof ENVIRONMENTS)[number];

/** What `pulumi up` deploys: the machines and the platform on them, or the machines only. */
export const DEPLOY_MODES = ["platform", "infrastructure"] as const;
export type DeployMode = (typeof DEPLOY_MODES)[number];

interface KeyArgs<T> {
  /** One line for Pulumi.yaml and the README. */
  readonly description: string;
  /** The kind of value, with its range: what the raw string must be, and what it becomes. */
  readonly value: Value<T>;
  /** The default; absent means "no default" (the key is optional, or required where `required` says). */
  readonly default?: NoInfer<T>;
  /** A default that depends on the environment (not declarable in Pulumi.yaml). */
  readonly defaultIn?: Readonly<Record<EnvironmentKind, NoInfer<T>>>;
  /** Stored encrypted in the stack file; `setWith` completes `pulumi config set --secret <key> …`. */
  readonly secret?: { readonly setWith: string };
  /** Environments that use the key; absent = all. Elsewhere a value (other than the default) is an error. */
  readonly environments?: readonly EnvironmentKind[];
  /** Environments that need the key set, and why. */
  readonly required?: { readonly in: readonly EnvironmentKind[]; readonly why: string };
}

export interface KeySpec<T = unknown> extends KeyArgs<T> {
  /** How Pulumi.yaml declares it (from the value's kind). */
  readonly type: PulumiType;
  /** It always has a value: a default, or one per environment. */
  readonly always: boolean;
}

/** A key that always has a value (a default, or one per environment). */
export type Defaulted<T> = KeySpec<T> & { readonly always: true };

function key<T>(spec: KeyArgs<T> & { readonly default: NoInfer<T> }): Defaulted<T>;
function key<T>(spec: KeyArgs<T> & { readonly defaultIn: Readonly<Record<EnvironmentKind, NoInfer<T>>> }): Defaulted<T>;
function key<T>(spec: KeyArgs<T>): KeySpec<T>;
function key<T>(spec: KeyArgs<T>): KeySpec<T> {
  return { ...spec, type: spec.value.type, always: spec.default !== undefined || spec.defaultIn !== undefined };
}

const oddManagers = refined(integer(1, 7), [
  (n) => n % 2 === 1,
  "an odd number >= 1",
  () => "an even manager count cannot keep Raft quorum",
]);

const servingPort = refined(integer(1, 65535), [
  (n) => INTERNAL_PORTS[n] === undefined,
  "a port not used inside the cluster",
  (n) => `${n} is ${INTERNAL_PORTS[n]}`,
]);

const KEY_TABLE = {
  environment: key({
    description:
      "Where the machines come from: openstack (new VMs), local (containers on a Docker engine) or existing (an inventory of machines you have).",
    value: oneOf(ENVIRONMENTS),
    default: "local",
  }),
  deploy: key({
    description:
      "What `pulumi up` deploys: platform (the machines, then Ray, Swarm, serving and promotion on them) or infrastructure (the machines only: network, security groups, key pair, server groups, ports, VMs, floating IPs; nothing logs in to them).",
    value: oneOf(DEPLOY_MODES),
    default: "platform",
    environments: ["openstack"],
  }),
  adminCidr: key({
    description: "The only CIDR allowed to SSH to the bastion (e.g. your office /32). Required for openstack; /0 is refused.",
    value: v.adminCidr,
    environments: ["openstack"],
    required: { in: ["openstack"], why: "the CIDR allowed to SSH to the bastion, e.g. 203.0.113.7/32" },
  }),
  sshUser: key({
    description: "Login user on the machines. Default: debian (the Debian cloud image's user) on openstack and existing, root on local.",
    value: v.unixUser,
    defaultIn: { openstack: "debian", local: "root", existing: "debian" },
  }),
  sshPublicKey: key({
    description: "OpenSSH public key installed on the machines. Unset: a per-stack ED25519 key is generated (kept as a secret).",
    value: v.publicKey,
  }),
  sshPrivateKey: key({
    description: "Private key matching sshPublicKey, or of the existing machines. Secret. Required with sshPublicKey and for existing.",
    value: v.privateKey,
    secret: { setWith: "< key" },
    required: { in: ["existing"], why: "it logs in to your machines" },
  }),
  rayWorkers: key({
    description: "Number of Ray worker machines besides the head (development server).",
    value: integer(0, 100),
    default: 1,
    environments: ["openstack", "local"],
  }),
  swarmManagers: key({
    description: "Number of Swarm managers: odd, so Raft keeps quorum (1, 3, 5, 7).",
    value: oddManagers,
    default: 1,
    environments: ["openstack", "local"],
  }),
  swarmWorkers: key({
    description: "Number of Swarm worker machines.",
    value: integer(0, 100),
    default: 1,
    environments: ["openstack", "local"],
  }),
  image: key({
    description: "OpenStack image name for every VM (Debian 12 cloud image).",
    value: v.nonEmpty,
    default: "debian-12",
    environments: ["openstack"],
  }),
  externalNetwork: key({
    description: "Name of the OpenStack external network that the router and the bastion's floating IP use.",
    value: v.nonEmpty,
    default: "public",
    environments: ["openstack"],
  }),
  externalNetworkId: key({
    description:
      "Id of that external network. Set: it is used as is (no lookup). Unset: looked up by name, which needs OpenStack credentials; a preview without credentials (e.g. a pull request from a fork) then shows it as unknown.",
    value: v.networkId,
    environments: ["openstack"],
  }),
  bastionFlavor: key({
    description: "Flavor of the orchestration VM (bastion).",
    value: v.nonEmpty,
    default: "m1.small",
    environments: ["openstack"],
  }),
  rayHeadFlavor: key({
    description: "Flavor of the Ray head (development server).",
    value: v.nonEmpty,
    default: "m1.large",
    environments: ["openstack"],
  }),
  rayWorkerFlavor: key({
    description: "Flavor of the Ray workers.",
    value: v.nonEmpty,
    default: "m1.large",
    environments: ["openstack"],
  }),
  swarmManagerFlavor: key({
    description: "Flavor of the Swarm managers.",
    value: v.nonEmpty,
    default: "m1.medium",
    environments: ["openstack"],
  }),
  swarmWorkerFlavor: key({
    description: "Flavor of the Swarm workers.",
    value: v.nonEmpty,
    default: "m1.medium",
    environments: ["openstack"],
  }),
  networkCidr: key({
    description:
      "Private IPv4 CIDR of the cluster network (RFC 1918, /16 to /27). Each role has a fixed block: .10 orchestration, .11 Ray head, .12–.19 Swarm managers, the rest split between Ray workers and Swarm workers (a /24 fits 117 of each), so scaling one role never moves another.",
    value: v.networkCidr,
    default: "10.42.0.0/24",
    environments: ["openstack", "local"],
  }),
  dnsNameservers: key({
    description: "DNS servers handed out on the private subnet.",
    value: v.ipv4List,
    default: ["1.1.1.1", "9.9.9.9"],
    environments: ["openstack"],
  }),
  rayVersion: key({
    description: "Pinned Ray version installed on every Ray machine (must match workloads/tuning/requirements.txt).",
    value: v.version,
    default: "2.60.0",
  }),
  dockerVersion: key({
    description: "Docker engine version prefix every machine must run (Debian's docker.io package is installed if none is present).",
    value: v.versionPrefix,
    default: "20.10",
  }),
  servingPort: key({
    description: "Port of the prediction web API on the production machines (the only port open to the world).",
    value: servingPort,
    default: 8080,
  }),
  apiReplicas: key({
    description: "Replicas of the web API service.",
    value: integer(1, 50),
    default: 2,
  }),
  workerReplicas: key({
    description: "Replicas of the prediction task workers.",
    value: integer(1, 100),
    default: 2,
  }),
  endpointMode: key({
    description: "Swarm endpoint mode: vip (default) or dnsrr (for kernels without IPVS).",
    value: oneOf(["vip", "dnsrr"]),
    default: "vip",
  }),
  publishMode: key({
    description: "How the API port is published: ingress (routing mesh, default) or host (kernels without IPVS).",
    value: oneOf(["ingress", "host"]),
    default: "ingress",
  }),
  overlayEncryption: key({
    description: "Encrypt the serving stack's overlay network (IPsec between nodes). Turn off only where the kernel lacks IPsec (xfrm).",
    value: v.boolean,
    default: true,
  }),
  servingImage: key({
    description:
      "Image of the prediction service (api and worker): the one this project builds (workloads/serving), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    value: v.image,
    default: "rayswarm/serving:dev",
  }),
  rabbitmqImage: key({
    description:
      "RabbitMQ image: the one this project builds (images/rabbitmq: Debian's rabbitmq-server), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    value: v.image,
    default: "rayswarm/rabbitmq:3",
  }),
  redisImage: key({
    description:
      "Redis image (result backend): the one this project builds (images/redis: Debian's redis-server), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    value: v.image,
    default: "rayswarm/redis:7",
  }),
  imageTarballs: key({
    description:
      "Local `docker save` tarballs loaded on every Swarm machine before deploying (no registry needed); the stack file names each image they carry by its image ID. Made by scripts/images/build-images.sh + save-images.sh.",
    value: v.tarballList,
    default: [],
  }),
  initialTuning: key({
    description: "Run a tuning job on the Ray cluster during `pulumi up` so production has a model at once.",
    value: v.boolean,
    default: true,
  }),
  tuningTrials: key({
    description: "Trials of the initial tuning job.",
    value: integer(1, 1000),
    default: 16,
  }),
  tuningTimeBudget: key({
    description: "Time budget of the initial tuning job, in seconds.",
    value: integer(30, 86400),
    default: 600,
  }),
  jupyter: key({
    description: "Run JupyterLab on the Ray head, reachable only through an SSH tunnel.",
    value: v.boolean,
    default: false,
  }),
  modelRoot: key({
    description: "Folder on the production machines holding versions/<id>/ and the `current` link.",
    value: v.absolutePath,
    default: "/srv/rayswarm/models",
  }),
  keepModelVersions: key({
    description: "Model versions kept on each production machine (>= 2).",
    value: integer(2, 100),
    default: 5,
  }),
  trainTrials: key({
    description: "Trials of the search the printed trainCommand runs (train on the Ray cluster, then promote).",
    value: integer(1, 1000),
    default: 16,
  }),
  trainTimeBudget: key({
    description: "Time budget of the trainCommand's search, in seconds.",
    value: integer(30, 86400),
    default: 600,
  }),
  trainSeed: key({
    description: "Seed of the trainCommand's search (the same seed and trials give the same model).",
    value: integer(0, 2147483647),
    default: 7,
  }),
  gateMinImprovement: key({
    description:
      "Relative RMSE improvement a candidate model needs over the live one, both scored by the gate on the evaluation set every production machine holds (0.005 = 0.5 %; 0 = any improvement).",
    value: v.fraction,
    default: "0.005",
  }),
  monitoring: key({
    description:
      "Prometheus + Alertmanager on the orchestration machine (reached only through the SSH tunnel of the monitoringTunnel output), node exporters everywhere, a relay in the swarm. Needs an orchestration machine.",
    value: v.boolean,
    default: true,
  }),
  monitoringRetention: key({
    description: "How long Prometheus keeps samples: a Prometheus duration such as 15d, 12h or 2w.",
    value: v.duration,
    default: "15d",
  }),
  monitoringWebhookUrl: key({
    description: "Alertmanager webhook receiver (http(s) URL). Secret. Unset: alerts are only shown on the page, not sent.",
    value: v.webhookUrl,
    secret: { setWith: "<url>" },
  }),
  monitoringImage: key({
    description:
      "Image of the in-swarm relay and Redis exporter (images/monitoring: Debian's prometheus + prometheus-redis-exporter), delivered in a rayswarm:imageTarballs file and run by its image ID, or an image named by digest (name@sha256:…).",
    value: v.image,
    default: "rayswarm/monitoring:2",
  }),
  prometheusVersion: key({
    description: "Exact version of Debian's prometheus package on the orchestration machine (its upstream part, e.g. 2.42.0).",
    value: v.exactVersion,
    default: "2.42.0",
  }),
  alertmanagerVersion: key({
    description: "Exact version of Debian's prometheus-alertmanager package on the orchestration machine.",
    value: v.exactVersion,
    default: "0.25.0",
  }),
  nodeExporterVersion: key({
    description: "Exact version of Debian's prometheus-node-exporter package on every machine.",
    value: v.exactVersion,
    default: "1.5.0",
  }),
  hosts: key({
    description:
      "Existing machines: a list of {name, address, roles, user?, port?, privateAddress?, hostKey?}. Required for existing. hostKey (the line of /etc/ssh/ssh_host_ed25519_key.pub) makes every connection check the machine's identity; without it the host key is not checked (a warning says so).",
    value: inventory,
    environments: ["existing"],
    required: { in: ["existing"], why: "list your machines with name, address and roles" },
  }),
  localNodeImage: key({
    description: "Image of the node containers of the local environment (images/node).",
    value: v.image,
    default: "rayswarm/node:dev",
    environments: ["local"],
  }),
  localPipCache: key({
    description:
      "Folder of this machine mounted as pip's cache (/root/.cache/pip) in every node container, so Ray's venvs reuse downloaded wheels. Unset: no cache.",
    value: v.hostFolder,
    environments: ["local"],
  }),
};

export type KeyName = keyof typeof KEY_TABLE;
export const KEYS: Readonly<Record<KeyName, KeySpec>> = KEY_TABLE;

/** The value type of a key. */
export type ValueOf<K extends KeyName> = (typeof KEY_TABLE)[K] extends KeySpec<infer T> ? T : never;
/** What reading a key gives: always a value for keys with a default, else possibly nothing. */
export type Read<K extends KeyName> = (typeof KEY_TABLE)[K] extends { readonly always: true } ? ValueOf<K> : ValueOf<K> | undefined;

/** The declared default of a key (undefined when it has none). */
export function defaultOf(key: KeyName): unknown {
  return KEYS[key].default;
}
