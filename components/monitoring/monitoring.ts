import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { ChildNames } from "../core/names";
import * as command from "@pulumi/command";
import { Host, hasRole, sshTunnel } from "../host";
import { asRoot, sh, stdinInstaller } from "../remote";
import { HostRunner, HostScripts, ScriptSet } from "../runner";
import {
  alertmanagerConfig,
  CONSOLE_PAGE,
  DEFAULT_THRESHOLDS,
  machineTargets,
  MONITORING_PORTS,
  targetFilePath,
  Thresholds,
  prometheusConfig,
  relayConfig,
  renderYaml,
} from "./config";
import { filesInstaller, hashFiles, MONITORING_ROOT, MONITORING_SCRIPTS, readMonitoringScripts } from "./files";
import { orchestrationFiles } from "./render";
import { redisUri, renderMonitoringStack } from "./stackfile";

/** Debian package versions (upstream part, e.g. 2.42.0 for 2.42.0+ds-5+deb12u1). */
export interface MonitoringVersions {
  /** `prometheus` on the orchestration machine. Default: 2.42.0 (bookworm). */
  readonly prometheus?: string;
  /** `prometheus-alertmanager`. Default: 0.25.0 (bookworm). */
  readonly alertmanager?: string;
  /** `prometheus-node-exporter` on every machine. Default: 1.5.0 (bookworm). */
  readonly nodeExporter?: string;
}

export const DEFAULT_MONITORING_VERSIONS = { prometheus: "2.42.0", alertmanager: "0.25.0", nodeExporter: "1.5.0" } as const;

/** What the monitoring needs of the serving stack (absent: no swarm-side scraping). */
export interface MonitoredServing {
  /** The swarm manager the stacks are deployed from; the relay runs there. */
  readonly manager: Host;
  /** The serving stack is deployed and converged (its overlay network exists). */
  readonly ready: pulumi.Resource;
  /** The serving stack's name. Default: `rayswarm` (ServingStackArgs.stackName). */
  readonly stackName?: string;
  /** Redis password of the serving stack (secret): the Redis exporter logs in with it. */
  readonly redisPassword: pulumi.Input<string>;
  /** Image with Debian's prometheus + prometheus-redis-exporter (images/monitoring). */
  readonly image: string;
  /** Swarm publish mode of the relay's port (same as the API's: host where there is no IPVS). */
  readonly publishMode: "ingress" | "host";
  readonly endpointMode: "vip" | "dnsrr";
  /** Configured replicas, for the WorkersMissing alert and the page. */
  readonly apiReplicas: number;
  readonly workerReplicas: number;
  /** Folder with `current` on the production machines (model version textfile). */
  readonly modelRoot: string;
}

export interface MonitoringArgs {
  /** Stack name: an external label on every series and alert. */
  readonly stack: string;
  /** The orchestration machine: Prometheus and Alertmanager, on its private address. */
  readonly orchestration: Host;
  /** Every machine (the orchestration machine included): node exporter on each. */
  readonly hosts: readonly Host[];
  /** The serving stack; absent = machines and Ray only. */
  readonly serving?: MonitoredServing;
  /** Debian package versions. Defaults: DEFAULT_MONITORING_VERSIONS. */
  readonly versions?: MonitoringVersions;
  /** How long Prometheus keeps samples (Prometheus duration, e.g. 15d). Default: 15d. */
  readonly retention?: string;
  /** Alertmanager webhook receiver URL (secret). Absent: alerts are only shown, not sent. */
  readonly webhookUrl?: pulumi.Input<string>;
  /** Alert thresholds. Defaults: DEFAULT_THRESHOLDS (p99 0.05 s = the serving target). */
  readonly thresholds?: Partial<Thresholds>;
  /**
   * Where operators SSH first: `ssh` is the ready-made ssh line to the bastion (with its key,
   * known_hosts and port options); the tunnel line is made from it (host.ts sshTunnel).
   */
  readonly bastion: { readonly ssh: pulumi.Input<string> };
  /**
   * Scrape Ray's metrics export (port 8090 on every Ray machine, components/core/ports.ts
   * rayStartPortArgs; RayNodesMissing). Ray only exports metrics when `ray[default]` is installed
   * (the tuning requirements pin it). Default: true.
   */
  readonly rayMetrics?: boolean;
  /** Extra resources to wait for before starting (e.g. Ray ready, so Ray's metrics exist). */
  readonly dependsOn?: readonly pulumi.Resource[];
}

const VERSION_RE = /^\d+\.\d+\.\d+$/;
const DURATION_RE = /^\d+(ms|s|m|h|d|w|y)$/;
const sha = (s: string) => crypto.createHash("sha256").update(s).digest("hex").slice(0, 16);

/** What is wrong with the args (naming the arg and the fix), or undefined. */
export function monitoringArgsProblem(args: MonitoringArgs): string | undefined {
  const versions = { ...DEFAULT_MONITORING_VERSIONS, ...(args.versions ?? {}) };
  for (const [k, v] of Object.entries(versions))
    if (!VERSION_RE.test(v)) return `args.versions.${k} must be an exact version such as 2.42.0 (got ${v})`;
  const retention = args.retention ?? "15d";
  if (!DURATION_RE.test(retention)) return `args.retention must be a Prometheus duration such as 15d (got ${retention})`;
  if (!hasRole(args.orchestration, "orchestration"))
    return `args.orchestration (${args.orchestration.name}) must have the orchestration role`;
  if (!args.hosts.some((h) => h.name === args.orchestration.name))
    return `args.hosts must include the orchestration machine ${args.orchestration.name}`;
  if (new Set(args.hosts.map((h) => h.name)).size !== args.hosts.length) return "a host is listed twice in args.hosts";
  const thresholds = { ...DEFAULT_THRESHOLDS, ...(args.thresholds ?? {}) };
  for (const [k, v] of Object.entries(thresholds))
    if (!(typeof v === "number" && Number.isFinite(v) && v > 0)) return `args.thresholds.${k} must be a positive number (got ${v})`;
  if (thresholds.errorRatio >= 1) return `args.thresholds.errorRatio is a share, below 1 (got ${thresholds.errorRatio})`;
  const serving = args.serving;
  if (serving) {
    if (!args.hosts.some((h) => h.name === serving.manager.name)) return "args.serving.manager must be one of args.hosts";
    if (!hasRole(serving.manager, "swarm-manager")) return `args.serving.manager (${serving.manager.name}) must be a swarm manager`;
    if (serving.endpointMode === "dnsrr" && serving.publishMode === "ingress")
      return "args.serving.publishMode must be host when endpointMode is dnsrr";
    if (!(serving.apiReplicas >= 1 && serving.workerReplicas >= 1)) return "args.serving.apiReplicas and workerReplicas must be >= 1";
  }
  return undefined;
}

/**
 * Prometheus and Alertmanager on the orchestration machine (private address only), the node
 * exporter on every machine, Ray's metrics export scraped on the Ray machines, and beside the
 * serving stack a relay Prometheus inside the swarm overlay (Swarm DNS `tasks.<service>` for
 * every API and worker task, RabbitMQ's rabbitmq_prometheus endpoint and a Redis exporter),
 * federated by the orchestration machine. Alert rules (rules/*.yml) and the operator page
 * (consoles/rayswarm.html). Output: the SSH tunnel line.
 */
export class Monitoring extends pulumi.ComponentResource {
  /** `ssh -N -L 9090:… -L 9093:… user@bastion  # then open …`: paste it, then open the page. */
  public readonly tunnel: pulumi.Output<string>;
  /** The operator page through the tunnel. */
  public readonly consoleUrl: pulumi.Output<string>;
  /** Prometheus and Alertmanager on the private address (reachable from the cluster only). */
  public readonly prometheusUrl: pulumi.Output<string>;
  public readonly alertmanagerUrl: pulumi.Output<string>;
  /** Generated files (no secrets in them). */
  public readonly prometheusConfig: pulumi.Output<string>;
  public readonly alertmanagerConfig: string;
  public readonly relayConfig?: string;
  public readonly stackFile?: pulumi.Output<string>;
  /** Every scrape target of the orchestration machine's Prometheus, `job address`. */
  public readonly targets: pulumi.Output<string[]>;
  /** Depend on this: Prometheus and Alertmanager answer. */
  public readonly ready: command.remote.Command;
  /** Per machine name: the step that drops its file_sd target files on the orchestration machine. */
  public readonly targetSteps: Record<string, command.remote.Command>;

  constructor(name: string, args: MonitoringArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:monitoring:Monitoring", name, {}, opts);
    const names = ChildNames.of(opts, name);
    const problem = monitoringArgsProblem(args);
    if (problem) throw new pulumi.ResourceError(`Monitoring ${name}: ${problem}`, this);
    const versions = { ...DEFAULT_MONITORING_VERSIONS, ...(args.versions ?? {}) };
    const retention = args.retention ?? "15d";
    const thresholds = { ...DEFAULT_THRESHOLDS, ...(args.thresholds ?? {}) };
    const serving = args.serving;

    // Scripts on every machine, in parallel, in their own folder (the orchestration machine
    // has no main bundle).
    const scripts = readMonitoringScripts();
    const scriptsHash = hashFiles(scripts);
    const set = monitoringScriptSet(scriptsHash);
    const installed: Record<string, command.remote.Command> = {};
    for (const h of args.hosts)
      installed[h.name] = new HostRunner(h, set, h.ready, this).command(names.child("scripts", h), {
        create: stdinInstaller(`${MONITORING_ROOT}/scripts.d`),
        stdin: filesInstaller(scripts, `${MONITORING_ROOT}/scripts.d/${scriptsHash}`, MONITORING_SCRIPTS),
        triggers: [scriptsHash],
        after: [h.ready, ...(args.dependsOn ?? [])],
      });
    const monitoringScripts = new HostScripts(set, installed);
    const on = (h: Host) => monitoringScripts.on(h, this, `Monitoring ${name}`);

    // The node exporter on every machine's private address; the model textfile on production.
    const exporters: Record<string, pulumi.Resource> = {};
    for (const h of args.hosts) {
      const run = on(h);
      // Delete step: stop what the monitoring started on the machine (packages and data stay).
      const stop = run.undo(names.child("stop", h), "stop.sh");
      const exporter = run.run(names.child("node-exporter", h), "node-exporter.sh", {
        args: [h.privateAddress, MONITORING_PORTS.nodeExporter, versions.nodeExporter],
        triggers: [versions.nodeExporter, h.privateAddress],
        after: [stop],
      });
      exporters[h.name] = exporter;
      if (serving && (hasRole(h, "swarm-manager") || hasRole(h, "swarm-worker")))
        run.run(names.child("model-metric", h), "model-metric.sh", {
          args: [serving.modelRoot],
          triggers: [serving.modelRoot],
          after: [exporter],
        });
    }

    // The swarm side: the relay's config (a Docker config), the exporter's password file (a
    // Docker secret), the monitoring stack. After the serving stack (its overlay must exist).
    const servingStack = serving?.stackName ?? "rayswarm";
    const monitoringStack = `${servingStack}-monitoring`;
    let relayReady: pulumi.Resource | undefined;
    if (serving) {
      const relayYaml = renderYaml(relayConfig({ servingStack, monitoringStack }));
      const relayConfigName = `${monitoringStack}_relay_${sha(relayYaml).slice(0, 10)}`;
      const passwords = pulumi.secret(pulumi.output(serving.redisPassword).apply((p) => JSON.stringify({ [redisUri(servingStack)]: p })));
      const secretName = pulumi.unsecret(
        pulumi.interpolate`${monitoringStack}_redis_passwords_${passwords.apply((p) => sha(p).slice(0, 10))}`,
      );
      const after = [installed[serving.manager.name], serving.ready];
      const manager = on(serving.manager);
      // Like the serving stack's Docker secrets: named by their content, triggered only by the
      // manager's identity (a script edit must not replace, and so remove, a config in use).
      const config = manager.run(names.child("relay-config"), "swarm-config.sh", {
        args: ["create", relayConfigName],
        undo: { script: "swarm-config.sh", args: ["remove", relayConfigName] },
        stdin: relayYaml,
        uses: [],
        after,
      });
      const secret = manager.run(names.child("redis-secret"), "swarm-secret.sh", {
        args: ["create", secretName],
        undo: { script: "swarm-secret.sh", args: ["remove", secretName] },
        stdin: passwords,
        secretStdin: true,
        uses: [],
        after,
      });
      this.relayConfig = relayYaml;
      this.stackFile = secretName.apply((n) =>
        renderMonitoringStack({
          image: serving.image,
          servingStack,
          relayNode: serving.manager.name,
          publishMode: serving.publishMode,
          endpointMode: serving.endpointMode,
          relayConfigName,
          redisPasswordSecretName: n,
        }),
      );
      const remove = manager.undo(names.child("stack-rm"), "stack-rm.sh", { args: [monitoringStack], after: [config, secret] });
      relayReady = manager.run(names.child("stack-deploy"), "stack-deploy.sh", {
        args: [monitoringStack, 300],
        stdin: this.stackFile,
        triggers: [this.stackFile.apply(sha)],
        scriptHashLast: true,
        after: [remove],
      });
    }

    // The orchestration machine: generated files staged, then Prometheus + Alertmanager.
    // prometheus.yml names no machine (file_sd over /etc/prometheus/targets/<job>/): each
    // machine's targets are dropped by its own step below, so adding a machine adds a step and
    // changes no existing one.
    const orch = args.orchestration;
    const rayMetrics = args.rayMetrics ?? true;
    const relayTarget = serving ? pulumi.interpolate`${serving.manager.privateAddress}:${MONITORING_PORTS.relay}` : pulumi.output("");
    const promSettings = pulumi.all([pulumi.output(orch.privateAddress), relayTarget]).apply(([listen, relay]) => ({
      stack: args.stack,
      listenAddress: listen,
      relayTarget: relay || undefined,
      rayMetrics,
    }));
    const promDoc = promSettings.apply(prometheusConfig);
    this.prometheusConfig = promDoc.apply(renderYaml);
    this.alertmanagerConfig = renderYaml(alertmanagerConfig({ webhook: args.webhookUrl !== undefined }));
    // No machine count in the expectations: RayNodesMissing counts the ray target files, so a new
    // Ray worker adds its target step and leaves this config step as it is.
    const expectations = {
      stack: args.stack,
      apiReplicas: serving?.apiReplicas ?? 0,
      workerReplicas: serving?.workerReplicas ?? 0,
      ...thresholds,
    };
    const staged = promSettings.apply((prometheus) => {
      const files = orchestrationFiles({ prometheus, webhook: args.webhookUrl !== undefined, expectations });
      const hash = hashFiles(files);
      return { hash, dir: `${MONITORING_ROOT}/config.d/${hash}`, program: filesInstaller(files, `${MONITORING_ROOT}/config.d/${hash}`) };
    });
    const orchRun = on(orch);
    const stage = orchRun.command(names.child("config"), {
      create: stdinInstaller(`${MONITORING_ROOT}/config.d`),
      stdin: staged.apply((s) => s.program),
      triggers: [staged.apply((s) => s.hash)],
    });
    this.ready = orchRun.run(names.child("prometheus"), "prometheus.sh", {
      args: [orch.privateAddress, versions.prometheus, versions.alertmanager, retention, staged.apply((s) => s.dir)],
      // The webhook URL only ever travels here, on stdin, as a secret.
      stdin: args.webhookUrl !== undefined ? pulumi.secret(pulumi.output(args.webhookUrl).apply((u) => `${u}\n`)) : "\n",
      triggers: [
        staged.apply((s) => s.hash),
        versions.prometheus,
        versions.alertmanager,
        retention,
        args.webhookUrl !== undefined ? pulumi.secret(pulumi.output(args.webhookUrl).apply(sha)) : "",
      ],
      after: [stage, exporters[orch.name], ...(relayReady ? [relayReady] : [])],
      opts: { additionalSecretOutputs: ["stdin"] },
    });

    // One step per machine on the orchestration machine: its target files (create writes them,
    // delete removes them; file_sd follows without a restart). After Prometheus (it owns the
    // folder) and the machine's exporter (the target answers when it appears).
    const targetLists: pulumi.Output<string[]>[] = [];
    this.targetSteps = {};
    for (const h of args.hosts) {
      const files = pulumi
        .output(h.privateAddress)
        .apply((address) => machineTargets({ name: h.name, roles: h.roles, address }, { rayMetrics }));
      const paths = machineTargets({ name: h.name, roles: h.roles, address: "" }, { rayMetrics }).map((f) => targetFilePath(f.job, h.name));
      targetLists.push(files.apply((fs) => fs.map((f) => `${f.job} ${(JSON.parse(f.content) as { targets: string[] }[])[0].targets[0]}`)));
      this.targetSteps[h.name] = orchRun.command(names.child("target", h), {
        create: asRoot("bash -s"),
        stdin: files.apply((fs) => targetsWriter(fs, h.name)),
        delete: asRoot(`rm -f ${paths.map(sh).join(" ")}`),
        triggers: [files.apply((fs) => sha(JSON.stringify(fs)))],
        // Replaced (the orchestration machine or the address changed): remove first, then write,
        // so the old step's delete never removes the file the new one wrote.
        after: [this.ready, exporters[h.name]],
        opts: { deleteBeforeReplace: true },
      });
    }

    const p = MONITORING_PORTS;
    this.prometheusUrl = pulumi.interpolate`http://${orch.privateAddress}:${p.prometheus}`;
    this.alertmanagerUrl = pulumi.interpolate`http://${orch.privateAddress}:${p.alertmanager}`;
    this.consoleUrl = pulumi.output(`http://localhost:${p.prometheus}/consoles/${CONSOLE_PAGE}`);
    // Both listen on the orchestration machine's private address: the tunnel ends there, made
    // from the bastion's ssh line so its key, known_hosts and jump options stay (pastes as is).
    this.tunnel = sshTunnel(
      args.bastion.ssh,
      pulumi.interpolate`${p.prometheus}:${orch.privateAddress}:${p.prometheus} -L ${p.alertmanager}:${orch.privateAddress}:${p.alertmanager}`,
      `then open http://localhost:${p.prometheus}/consoles/${CONSOLE_PAGE}`,
    );
    const staticTargets = promDoc.apply((doc) =>
      (doc.scrape_configs as { job_name: string; static_configs?: { targets: string[] }[] }[]).flatMap((j) =>
        (j.static_configs ?? []).flatMap((c) => c.targets.map((t) => `${j.job_name} ${t}`)),
      ),
    );
    this.targets = pulumi.all([staticTargets, ...targetLists]).apply(([st, ...per]) => {
      const machines = per.flat();
      // prometheus/alertmanager first, then the machines' jobs, then the relay (the config's order).
      return [...st.filter((t) => !t.startsWith("swarm-relay ")), ...machines, ...st.filter((t) => t.startsWith("swarm-relay "))];
    });
    this.registerOutputs({
      tunnel: this.tunnel,
      consoleUrl: this.consoleUrl,
      prometheusUrl: this.prometheusUrl,
      alertmanagerUrl: this.alertmanagerUrl,
      prometheusConfig: this.prometheusConfig,
      alertmanagerConfig: this.alertmanagerConfig,
      relayConfig: this.relayConfig,
      stackFile: this.stackFile,
      targets: this.targets,
    });
  }
}

/**
 * The monitoring's scripts under MONITORING_SCRIPTS: run as root by path (no `env`), and every
 * step's trigger is the hash of all of them (they are installed as one folder).
 */
function monitoringScriptSet(scriptsHash: string): ScriptSet {
  return {
    commandLine: (script, words) => asRoot(["bash", `${MONITORING_SCRIPTS}/${script}`, ...words.map(sh)].join(" ")),
    hashOf: (_script, uses) => (uses && uses.length === 0 ? undefined : scriptsHash),
  };
}

/** A bash program writing a machine's target files atomically (Prometheus never reads half a file). */
function targetsWriter(files: readonly { job: string; path: string; content: string }[], machine: string): string {
  const lines = ["set -euo pipefail"];
  for (const f of files) {
    const dest = targetFilePath(f.job as "node" | "ray", machine);
    const dir = dest.slice(0, dest.lastIndexOf("/"));
    lines.push(`install -d -m 0755 ${sh(dir)}`);
    lines.push(
      `printf '%s' ${sh(f.content)} > ${sh(dest + ".tmp")} && chmod 0644 ${sh(dest + ".tmp")} && mv -f ${sh(dest + ".tmp")} ${sh(dest)}`,
    );
  }
  lines.push(`echo "monitoring targets of ${machine} written" >&2`);
  return lines.join("\n") + "\n";
}
