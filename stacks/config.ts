/**
 * The only place that reads Pulumi config. It turns the stack's `rayswarm:*` keys into one
 * validated, typed PlatformConfig, or fails before any resource is registered with one line per
 * bad key: the key, the bad value, what is allowed (and why, where it is not obvious).
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { DEPLOY_MODES, DeployMode, ENVIRONMENTS, EnvironmentKind, KEYS, KeyName, KeySpec, PROJECT, ROLES, Role, defaultOf } from "./schema";
import { describeBlock, ipv4, isPrivate, parseCidr, roleBlocks } from "./network";
import { PINNED_RE, tarballImages } from "../components/serving/images";
import { INTERNAL_PORTS } from "../components/core/ports";

export { ROLES, Role, EnvironmentKind, DeployMode } from "./schema";
export { parseCidr } from "./network";

/** A machine of the `existing` environment. */
export interface InventoryHost {
  readonly name: string;
  /** How this machine reaches it (for the bastion: from here; for the others: from the bastion). */
  readonly address: string;
  /** Address inside the cluster network; defaults to `address`. */
  readonly privateAddress: string;
  readonly port: number;
  readonly user: string;
  readonly roles: readonly Role[];
  /** The machine's SSH host key (`ssh-ed25519 AAAA…`, from /etc/ssh/ssh_host_ed25519_key.pub): checked on every connection. */
  readonly hostKey?: string;
}

export interface PlatformConfig {
  readonly project: string;
  readonly stack: string;
  readonly environment: EnvironmentKind;
  /** platform: machines + platform; infrastructure: the machines only (no remote command). */
  readonly deploy: DeployMode;
  readonly ssh: {
    readonly user: string;
    readonly publicKey?: string;
    /** Always a secret Output when set. */
    readonly privateKey?: pulumi.Output<string>;
  };
  readonly adminCidr?: string;
  /** The cluster network (openstack's subnet, local's Docker network); every role has a fixed block of it. */
  readonly networkCidr: string;
  readonly counts: { readonly rayWorkers: number; readonly swarmManagers: number; readonly swarmWorkers: number };
  readonly openstack: {
    readonly image: string;
    readonly externalNetwork: string;
    /** The external network's id when configured (no lookup). */
    readonly externalNetworkId?: string;
    /** OpenStack credentials are configured (OS_AUTH_URL/OS_CLOUD or openstack:authUrl/cloud). */
    readonly credentials: boolean;
    readonly dnsNameservers: readonly string[];
    readonly flavors: Readonly<Record<Role, string>>;
  };
  readonly versions: { readonly ray: string; readonly docker: string };
  readonly serving: {
    readonly port: number;
    readonly apiReplicas: number;
    readonly workerReplicas: number;
    readonly endpointMode: "vip" | "dnsrr";
    readonly publishMode: "ingress" | "host";
    readonly images: { readonly serving: string; readonly rabbitmq: string; readonly redis: string };
    readonly imageTarballs: readonly string[];
    readonly overlayEncryption: boolean;
  };
  readonly tuning: {
    readonly initial: boolean;
    readonly trials: number;
    readonly timeBudgetSeconds: number;
    readonly jupyter: boolean;
  };
  readonly promotion: { readonly modelRoot: string; readonly keepVersions: number; readonly minImprovement: string };
  readonly monitoring: {
    readonly enabled: boolean;
    /** Prometheus duration, e.g. 15d. */
    readonly retention: string;
    /** Alertmanager webhook receiver; always a secret Output when set. */
    readonly webhookUrl?: pulumi.Output<string>;
    /** Image of the in-swarm relay and Redis exporter. */
    readonly image: string;
    /** Debian package versions (upstream part). */
    readonly versions: { readonly prometheus: string; readonly alertmanager: string; readonly nodeExporter: string };
  };
  readonly hosts: readonly InventoryHost[];
  readonly local: {
    readonly nodeImage: string;
    /** Host folder shared by the node containers as pip's cache (Ray's venvs install faster). */
    readonly pipCache?: string;
  };
}

/** Thrown with every problem found, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration for project ${PROJECT}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Ports the cluster uses internally; the serving port must not collide with them (components/core/ports.ts). */
export { INTERNAL_PORTS } from "../components/core/ports";

// ---------- value parsers: raw config strings -> typed values ----------

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/);
const nameRe = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

const versionRe = /^\d+\.\d+(\.\d+)?$/;
const imageRe = /^[a-z0-9]+([._/-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$/;

const hostSchema = z
  .object({
    name: z.string().regex(nameRe, "a lowercase DNS label (a-z, 0-9, -)"),
    address: z.union([ipv4, hostname], { error: "an IPv4 address or a hostname" }),
    privateAddress: ipv4.optional(),
    port: z.number().int().min(1).max(65535).optional(),
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/)
      .optional(),
    roles: z.array(z.enum(ROLES)).min(1),
    hostKey: z
      .string()
      .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, "an OpenSSH public host key line")
      .optional(),
  })
  .strict();

// ---------- image tarballs ----------

/** The tag save-images.sh names a tarball after (rayswarm_serving_dev.tar: rayswarm/serving:dev), when it follows that rule. */
function tagOfTarball(file: string): string {
  const m = /^([a-z0-9.-]+)_([a-z0-9._-]+)_([A-Za-z0-9.-]+)\.tar$/.exec(path.basename(file));
  return m ? `${m[1]}/${m[2]}:${m[3]}` : "<image>";
}

/** The tarball save-images.sh writes for `tag` into `dir` (rayswarm/serving:dev: rayswarm_serving_dev.tar). */
function tarballOf(dir: string, tag: string): string {
  return `${dir}/${tag.replace(/[/:]/g, "_")}.tar`;
}

/** The commands that build this project's images and save one as a tarball in `dir`. */
function tarballCommand(dir: string, tag: string): string {
  const image = /^rayswarm\/([a-z0-9-]+):/.exec(tag)?.[1];
  const build = image ? `bash scripts/images/build-images.sh ${image} && ` : "";
  return `${build}bash scripts/images/save-images.sh ${dir} ${tag} (bash scripts/deploy-local.sh makes the local stack's)`;
}

// ---------- the loader ----------

type Raw = Readonly<Record<string, string>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: Raw) {}

  has(key: KeyName): boolean {
    return this.raw[`${PROJECT}:${key}`] !== undefined;
  }

  rawValue(key: KeyName): string | undefined {
    return this.raw[`${PROJECT}:${key}`];
  }

  fail(key: KeyName, allowed: string, got: unknown, why?: string): void {
    const shown = typeof got === "string" ? JSON.stringify(got) : (JSON.stringify(got) ?? String(got));
    this.problems.push(`${PROJECT}:${key} must be ${allowed} (got ${shown})${why ? `: ${why}` : ""}`);
  }

  str(key: KeyName, check?: (v: string) => string | undefined): string | undefined {
    const v = this.rawValue(key) ?? defaultOf(key);
    if (v === undefined) return undefined;
    if (typeof v !== "string") return undefined;
    const bad = check?.(v);
    if (bad !== undefined) {
      this.fail(key, bad, v);
      return undefined;
    }
    return v;
  }

  int(key: KeyName, min: number, max: number, extra?: (n: number) => [string, string?] | undefined): number {
    const spec = KEYS[key];
    const v = this.rawValue(key);
    const fallback = typeof spec.default === "number" ? spec.default : min;
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v.trim())) {
      this.fail(key, `a whole number from ${min} to ${max}`, v);
      return fallback;
    }
    const n = Number(v);
    if (n < min || n > max) {
      this.fail(key, `a whole number from ${min} to ${max}`, n);
      return fallback;
    }
    const bad = extra?.(n);
    if (bad) {
      this.fail(key, bad[0], n, bad[1]);
      return fallback;
    }
    return n;
  }

  bool(key: KeyName): boolean {
    const spec = KEYS[key];
    const v = this.rawValue(key);
    if (v === undefined) return spec.default === true;
    if (v === "true" || v === "false") return v === "true";
    this.fail(key, "true or false", v);
    return spec.default === true;
  }

  oneOf<T extends string>(key: KeyName, allowed: readonly T[]): T {
    const v = this.str(key);
    const spec = KEYS[key];
    if (v !== undefined && (allowed as readonly string[]).includes(v)) return v as T;
    if (v !== undefined) this.fail(key, `one of ${allowed.join(", ")}`, v);
    return spec.default as T;
  }

  json(key: KeyName): unknown {
    const v = this.rawValue(key);
    if (v === undefined) return defaultOf(key);
    try {
      return JSON.parse(v);
    } catch {
      // A plain string where a list or object is expected.
      return v;
    }
  }
}

/**
 * Validates a raw config map (`pulumi.runtime.allConfig()` form: "rayswarm:key" -> string) into a
 * PlatformConfig. Pure: throws ConfigError listing every problem.
 */
export function parsePlatformConfig(raw: Raw, stack: string, secretKeys: readonly string[] = []): PlatformConfig {
  const r = new Reader(raw);

  // Unknown keys: a typo must never silently fall back to a default.
  const known = new Set(Object.keys(KEYS));
  for (const fullKey of Object.keys(raw)) {
    if (!fullKey.startsWith(`${PROJECT}:`)) continue;
    const key = fullKey.slice(PROJECT.length + 1);
    if (!known.has(key)) {
      const near = closest(key, [...known]);
      r.problems.push(
        `${fullKey} is not a known key${near ? ` (did you mean ${PROJECT}:${near}?)` : ""}: known keys are listed in the README's config reference`,
      );
    }
  }

  const environment = r.oneOf("environment", ENVIRONMENTS);
  const deploy = r.oneOf("deploy", DEPLOY_MODES);

  // Keys that the chosen environment ignores are an error, not a silent no-op.
  for (const [key, spec] of Object.entries(KEYS) as [KeyName, KeySpec][]) {
    const envs = spec.environments;
    // Pulumi.yaml's declared defaults reach the program like set values, so only a value that
    // differs from the default counts as "set".
    if (envs && !envs.includes(environment) && r.has(key) && !isDefault(spec, r.rawValue(key))) {
      r.problems.push(
        `${PROJECT}:${key} is not used when ${PROJECT}:environment is ${environment} (only with ${envs.join(" or ")}): remove it`,
      );
    }
  }

  const sshUser =
    r.str("sshUser", (v) => (/^[a-z_][a-z0-9_-]{0,31}$/.test(v) ? undefined : "a Unix user name")) ??
    (environment === "local" ? "root" : "debian");
  const sshPublicKey = r.str("sshPublicKey", (v) =>
    /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/.test(v.trim())
      ? undefined
      : "an OpenSSH public key line (ssh-ed25519 AAAA... or ssh-rsa AAAA...)",
  );
  const privateKeyRaw = r.rawValue("sshPrivateKey");
  if (privateKeyRaw !== undefined) {
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKeyRaw)) {
      r.problems.push(
        `${PROJECT}:sshPrivateKey must be a PEM/OpenSSH private key (got a value that is not one; not shown because it is a secret)`,
      );
    }
    if (secretKeys.length > 0 && !secretKeys.includes(`${PROJECT}:sshPrivateKey`)) {
      r.problems.push(
        `${PROJECT}:sshPrivateKey must be stored as a secret (got a plain value): set it with \`pulumi config set --secret sshPrivateKey < key\``,
      );
    }
  }
  if (sshPublicKey !== undefined && privateKeyRaw === undefined) {
    r.problems.push(
      `${PROJECT}:sshPrivateKey must be set when ${PROJECT}:sshPublicKey is (got nothing): the deployment logs in with the matching private key`,
    );
  }
  if (environment === "existing" && privateKeyRaw === undefined) {
    r.problems.push(
      `${PROJECT}:sshPrivateKey must be set when ${PROJECT}:environment is existing (got nothing): it logs in to your machines`,
    );
  }

  let adminCidr: string | undefined;
  if (environment === "openstack") {
    const v = r.rawValue("adminCidr");
    if (v === undefined) {
      r.problems.push(
        `${PROJECT}:adminCidr must be set when ${PROJECT}:environment is openstack (got nothing): the CIDR allowed to SSH to the bastion, e.g. 203.0.113.7/32`,
      );
    } else {
      const c = parseCidr(v);
      if (!c) r.fail("adminCidr", "an IPv4 CIDR such as 203.0.113.7/32", v);
      else if (c.prefix === 0) r.fail("adminCidr", "a CIDR narrower than /0", v, "SSH must not be open to the whole internet");
      else adminCidr = v;
    }
  }

  const rayWorkers = r.int("rayWorkers", 0, 100);
  const swarmManagers = r.int("swarmManagers", 1, 7, (n) =>
    n % 2 === 0 ? ["an odd number >= 1", "an even manager count cannot keep Raft quorum"] : undefined,
  );
  const swarmWorkers = r.int("swarmWorkers", 0, 100);

  const networkCidr =
    r.str("networkCidr", (v) => {
      const c = parseCidr(v);
      if (!c) return "an IPv4 network CIDR with no host bits set, such as 10.42.0.0/24";
      if (!isPrivate(c.base, c.prefix)) return "a private (RFC 1918) CIDR: 10/8, 172.16/12 or 192.168/16";
      if (c.prefix < 16 || c.prefix > 27) return "a CIDR from /16 to /27";
      return undefined;
    }) ?? "10.42.0.0/24";
  const net = parseCidr(networkCidr);
  if (net && environment !== "existing") {
    // Every role has a fixed block of the subnet (stacks/network.ts): the count must fit in it.
    const blocks = roleBlocks(net.prefix);
    const fits: [KeyName, number | undefined, Role][] = [
      ["rayWorkers", rayWorkers, "ray-worker"],
      ["swarmManagers", swarmManagers, "swarm-manager"],
      ["swarmWorkers", swarmWorkers, "swarm-worker"],
    ];
    for (const [key, count, role] of fits) {
      if (count !== undefined && count > blocks[role].size)
        r.fail(
          key,
          `at most ${blocks[role].size} in networkCidr ${networkCidr} (the ${role} block is ${describeBlock(networkCidr, blocks[role])})`,
          count,
          "use a larger networkCidr (e.g. a /24) or fewer machines",
        );
    }
  }

  const dnsRaw = r.json("dnsNameservers");
  let dnsNameservers: string[] = [...(defaultOf("dnsNameservers") as readonly string[])];
  if (!Array.isArray(dnsRaw) || dnsRaw.some((d) => !ipv4.safeParse(d).success)) {
    r.fail("dnsNameservers", "a list of IPv4 addresses", dnsRaw);
  } else dnsNameservers = dnsRaw as string[];

  const nonEmpty = (v: string) => (v.trim() === "" ? "a non-empty string" : undefined);
  const flavor = (key: KeyName) => r.str(key, nonEmpty) ?? String(defaultOf(key));

  const rayVersion =
    r.str("rayVersion", (v) => (versionRe.test(v) ? undefined : "a version such as 2.60.0")) ?? String(defaultOf("rayVersion"));
  const dockerVersion =
    r.str("dockerVersion", (v) => (versionRe.test(v) ? undefined : "a version prefix such as 20.10 or 26.1.5")) ??
    String(defaultOf("dockerVersion"));

  const servingPort = r.int("servingPort", 1, 65535, (n) =>
    INTERNAL_PORTS[n] ? [`a port not used inside the cluster`, `${n} is ${INTERNAL_PORTS[n]}`] : undefined,
  );
  const apiReplicas = r.int("apiReplicas", 1, 50);
  const workerReplicas = r.int("workerReplicas", 1, 100);
  const endpointMode = r.oneOf("endpointMode", ["vip", "dnsrr"] as const);
  const publishMode = r.oneOf("publishMode", ["ingress", "host"] as const);
  if (endpointMode === "dnsrr" && publishMode === "ingress" && r.has("endpointMode")) {
    r.fail(
      "publishMode",
      "host when endpointMode is dnsrr",
      publishMode,
      "Swarm cannot publish a dnsrr service through the ingress routing mesh",
    );
  }
  const image = (key: KeyName) =>
    r.str(key, (v) => (imageRe.test(v) ? undefined : "a Docker image reference such as redis:7.4 or registry/name:tag")) ??
    String(defaultOf(key));

  const tarRaw = r.json("imageTarballs");
  let imageTarballs: string[] = [];
  /** tag -> the tarball that carries it (the tarballs that exist and read as `docker save` files) */
  const delivered = new Map<string, string>();
  let tarballsReadable = true;
  if (!Array.isArray(tarRaw) || tarRaw.some((t) => typeof t !== "string" || !t.endsWith(".tar"))) {
    r.fail("imageTarballs", "a list of paths to .tar files made by `docker save`", tarRaw);
    tarballsReadable = false;
  } else {
    imageTarballs = tarRaw as string[];
    // Relative paths are relative to the project folder (where pulumi runs). deploy:
    // infrastructure loads no image: the files need not exist then.
    for (const t of deploy === "platform" ? imageTarballs : []) {
      if (!fs.existsSync(path.resolve(t))) {
        tarballsReadable = false;
        r.problems.push(`${PROJECT}:imageTarballs: ${t} does not exist: make it with ${tarballCommand(path.dirname(t), tagOfTarball(t))}`);
        continue;
      }
      try {
        for (const tag of Object.keys(tarballImages(path.resolve(t)))) delivered.set(tag, t);
      } catch (e) {
        tarballsReadable = false;
        r.problems.push(
          `${PROJECT}:imageTarballs: ${(e as Error).message}: make it with ${tarballCommand(path.dirname(t), tagOfTarball(t))}`,
        );
      }
    }
  }

  const modelRoot =
    r.str("modelRoot", (v) =>
      /^\/[A-Za-z0-9._/-]+$/.test(v) && !v.includes("..") ? undefined : "an absolute path without spaces or ..",
    ) ?? String(defaultOf("modelRoot"));

  // ---------- the existing environment's inventory ----------
  const hosts: InventoryHost[] = [];
  let inventoryWithoutOrchestration = false;
  if (environment === "existing") {
    const hostsRaw = r.json("hosts");
    if (hostsRaw === undefined) {
      r.problems.push(
        `${PROJECT}:hosts must be set when ${PROJECT}:environment is existing (got nothing): list your machines with name, address and roles`,
      );
    } else if (!Array.isArray(hostsRaw)) {
      r.fail("hosts", "a list of {name, address, roles}", hostsRaw);
    } else {
      hostsRaw.forEach((h, i) => {
        const parsed = hostSchema.safeParse(h);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) {
            const path = issue.path.join(".");
            const got = issue.path.reduce<unknown>(
              (o, p) => (o && typeof o === "object" ? (o as Record<string, unknown>)[p as string] : undefined),
              h,
            );
            r.problems.push(
              `${PROJECT}:hosts[${i}]${path ? "." + path : ""} must be ${describeIssue(issue, path)} (got ${JSON.stringify(got) ?? "nothing"})`,
            );
          }
          return;
        }
        const v = parsed.data;
        hosts.push({
          name: v.name,
          address: v.address,
          privateAddress: v.privateAddress ?? v.address,
          port: v.port ?? 22,
          user: v.user ?? sshUser,
          roles: [...new Set(v.roles)],
          hostKey: v.hostKey,
        });
      });
      const names = hosts.map((h) => h.name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup) r.problems.push(`${PROJECT}:hosts names must be unique (got ${JSON.stringify(dup)} twice)`);
      const count = (role: Role) => hosts.filter((h) => h.roles.includes(role)).length;
      if (r.problems.length === 0) {
        if (count("ray-head") !== 1) r.problems.push(`${PROJECT}:hosts must have exactly one ray-head (got ${count("ray-head")})`);
        if (count("swarm-manager") % 2 === 0)
          r.problems.push(
            `${PROJECT}:hosts must have an odd number of swarm-manager machines (got ${count("swarm-manager")}): an even manager count cannot keep Raft quorum`,
          );
        if (count("orchestration") > 1)
          r.problems.push(`${PROJECT}:hosts must have at most one orchestration machine (got ${count("orchestration")})`);
        inventoryWithoutOrchestration = count("orchestration") === 0;
      }
    }
  }
  const images = { serving: image("servingImage"), rabbitmq: image("rabbitmqImage"), redis: image("redisImage") };
  const localNodeImage = image("localNodeImage");
  const localPipCache = r.str("localPipCache", (v) =>
    path.isAbsolute(v) && !/[\s:]/.test(v) ? undefined : "an absolute path without spaces or colons",
  );
  const tuning = {
    initial: r.bool("initialTuning"),
    trials: r.int("tuningTrials", 1, 1000),
    timeBudgetSeconds: r.int("tuningTimeBudget", 30, 86400),
    jupyter: r.bool("jupyter"),
  };
  const keepVersions = r.int("keepModelVersions", 2, 100);
  const minImprovement =
    r.str("gateMinImprovement", (v) => (/^0(\.\d{1,6})?$/.test(v) ? undefined : "a fraction from 0 to 0.999999 such as 0.005")) ??
    String(defaultOf("gateMinImprovement"));

  // ---------- monitoring ----------
  const monitoringEnabled = r.bool("monitoring");
  // Prometheus and Alertmanager live on the orchestration machine.
  if (monitoringEnabled && inventoryWithoutOrchestration)
    r.fail(
      "monitoring",
      `false when ${PROJECT}:hosts has no orchestration machine`,
      true,
      "Prometheus and Alertmanager run on the orchestration machine: give one machine the orchestration role, or set monitoring false",
    );
  const retention =
    r.str("monitoringRetention", (v) =>
      /^\d+(ms|s|m|h|d|w|y)$/.test(v)
        ? undefined
        : "a Prometheus duration such as 15d, 12h or 2w (a number and one of ms, s, m, h, d, w, y)",
    ) ?? String(defaultOf("monitoringRetention"));
  const webhookRaw = r.rawValue("monitoringWebhookUrl");
  if (webhookRaw !== undefined) {
    // The value is a secret: never shown, not even when it is wrong.
    if (!/^https?:\/\/[^\s"\\]+$/.test(webhookRaw))
      r.problems.push(
        `${PROJECT}:monitoringWebhookUrl must be an http(s) URL without spaces, quotes or backslashes (got a value that is not one; not shown because it is a secret)`,
      );
    if (secretKeys.length > 0 && !secretKeys.includes(`${PROJECT}:monitoringWebhookUrl`))
      r.problems.push(
        `${PROJECT}:monitoringWebhookUrl must be stored as a secret (got a plain value): set it with \`pulumi config set --secret monitoringWebhookUrl <url>\``,
      );
  }
  const exactVersion = (key: KeyName) =>
    r.str(key, (v) =>
      /^\d+\.\d+\.\d+$/.test(v) ? undefined : "an exact version such as 2.42.0 (the upstream part of the Debian package's)",
    ) ?? String(defaultOf(key));
  const monitoringVersions = {
    prometheus: exactVersion("prometheusVersion"),
    alertmanager: exactVersion("alertmanagerVersion"),
    nodeExporter: exactVersion("nodeExporterVersion"),
  };
  const monitoringImage = image("monitoringImage");
  // On OpenStack every image the swarm runs (the prediction service, RabbitMQ and Redis, which
  // get the stack's Docker secrets, and the monitoring relay and exporter) is one this project
  // builds, delivered as a tarball and run by its image ID, or an image named by digest; never
  // whatever a tag names on a public registry. (local delivers its tarballs the same way;
  // existing machines may have their images already.)
  if (environment === "openstack" && deploy === "platform" && tarballsReadable) {
    const swarmImages: [KeyName, string][] = [
      ["servingImage", images.serving],
      ["rabbitmqImage", images.rabbitmq],
      ["redisImage", images.redis],
      ...(monitoringEnabled ? [["monitoringImage", monitoringImage] as [KeyName, string]] : []),
    ];
    const listed = imageTarballs.length ? imageTarballs.join(", ") : "none listed";
    for (const [key, ref] of swarmImages) {
      if (PINNED_RE.test(ref) || delivered.has(ref)) continue;
      const own = String(defaultOf(key));
      const make = (tag: string) =>
        `make it with ${tarballCommand(".local/images", tag)} and list ${tarballOf(".local/images", tag)} in ${PROJECT}:imageTarballs`;
      r.problems.push(
        `${PROJECT}:${key} ${ref} is in no ${PROJECT}:imageTarballs file (${listed}): the swarm runs the images this project builds, delivered as tarballs: ` +
          (/^rayswarm\//.test(ref) ? make(ref) : `set ${PROJECT}:${key} to this project's ${own} and ${make(own)}`) +
          " (or name an image by digest: name@sha256:…)",
      );
    }
  }
  const osImage = r.str("image", nonEmpty) ?? String(defaultOf("image"));
  const externalNetwork = r.str("externalNetwork", nonEmpty) ?? String(defaultOf("externalNetwork"));
  const externalNetworkId = r.str("externalNetworkId", (v) =>
    /^[A-Za-z0-9-]{1,64}$/.test(v) ? undefined : "a network id (letters, digits and dashes)",
  );
  const credentials = Boolean(process.env.OS_AUTH_URL || process.env.OS_CLOUD || raw["openstack:authUrl"] || raw["openstack:cloud"]);
  const flavors = {
    orchestration: flavor("bastionFlavor"),
    "ray-head": flavor("rayHeadFlavor"),
    "ray-worker": flavor("rayWorkerFlavor"),
    "swarm-manager": flavor("swarmManagerFlavor"),
    "swarm-worker": flavor("swarmWorkerFlavor"),
  };

  if (r.problems.length > 0) throw new ConfigError(r.problems);

  const counts =
    environment === "existing"
      ? {
          rayWorkers: hosts.filter((h) => h.roles.includes("ray-worker")).length,
          swarmManagers: hosts.filter((h) => h.roles.includes("swarm-manager")).length,
          swarmWorkers: hosts.filter((h) => h.roles.includes("swarm-worker")).length,
        }
      : { rayWorkers, swarmManagers, swarmWorkers };

  return {
    project: PROJECT,
    stack,
    environment,
    deploy,
    ssh: {
      user: sshUser,
      publicKey: sshPublicKey,
      privateKey: privateKeyRaw === undefined ? undefined : pulumi.secret(privateKeyRaw),
    },
    adminCidr,
    networkCidr,
    counts,
    openstack: { image: osImage, externalNetwork, externalNetworkId, credentials, dnsNameservers, flavors },
    versions: { ray: rayVersion, docker: dockerVersion },
    serving: {
      port: servingPort,
      apiReplicas,
      workerReplicas,
      endpointMode,
      publishMode,
      images,
      imageTarballs,
      overlayEncryption: r.bool("overlayEncryption"),
    },
    tuning,
    promotion: { modelRoot, keepVersions, minImprovement },
    monitoring: {
      enabled: monitoringEnabled,
      retention,
      webhookUrl: webhookRaw === undefined ? undefined : pulumi.secret(webhookRaw),
      image: monitoringImage,
      versions: monitoringVersions,
    },
    hosts,
    local: { nodeImage: localNodeImage, pipCache: localPipCache },
  };
}

function isDefault(spec: KeySpec, raw: string | undefined): boolean {
  if (spec.default === undefined || raw === undefined) return false;
  if (typeof spec.default === "string") return raw === spec.default;
  try {
    return JSON.stringify(JSON.parse(raw)) === JSON.stringify(spec.default);
  } catch {
    return false;
  }
}

function describeIssue(issue: z.core.$ZodIssue, path: string): string {
  if (path === "" && issue.code === "unrecognized_keys")
    return `an object with only name, address, privateAddress, port, user, roles (unknown: ${issue.keys.join(", ")})`;
  if (path === "") return "an object {name, address, roles}";
  if (path.startsWith("roles")) return `a list of roles from ${ROLES.join(", ")}`;
  if (path === "port") return "a port from 1 to 65535";
  if (path === "privateAddress") return "an IPv4 address";
  if (path === "user") return "a Unix user name";
  return issue.message.replace(/^Invalid input: /, "");
}

function closest(key: string, candidates: string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = dist(key, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(2, Math.floor(key.length / 4)) ? best : undefined;
}

/** Reads the stack's config once. Throws a RunError (no stack trace) listing every problem. */
export function loadPlatformConfig(): PlatformConfig {
  const raw = pulumi.runtime.allConfig();
  let secretKeys: string[] = [];
  try {
    secretKeys = JSON.parse(process.env.PULUMI_CONFIG_SECRET_KEYS ?? "[]") as string[];
  } catch {
    secretKeys = [];
  }
  try {
    return parsePlatformConfig(raw, pulumi.getStack(), secretKeys);
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
