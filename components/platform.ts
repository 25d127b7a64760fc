/**
 * Wires roles onto Hosts. Knows nothing of where the Hosts came from.
 */
import * as pulumi from "@pulumi/pulumi";
import { ROLES, Role } from "./core/roles";
import { Host, hostsWithRole } from "./core/host";
import { readBundle } from "./remote";
import { installBundles } from "./runner";
import { ChildNames } from "./core/names";
import { RayCluster } from "./ray";
import { SwarmCluster, SwarmNode } from "./swarm";
import { ServingStack } from "./serving";
import { ModelPromotion, TrainSearch } from "./promotion";
import { Monitoring } from "./monitoring";

/** The Ray cluster's settings (RayClusterArgs without the machines). */
export interface PlatformRayArgs {
  /** Pinned Ray version on every Ray machine. */
  readonly version: string;
  /** Run a tuning job during `pulumi up` so production has a model at once. */
  readonly initialTuning: boolean;
  /** Trials of the initial tuning job. */
  readonly tuningTrials: number;
  /** Time budget of the initial tuning job, in seconds. */
  readonly tuningTimeBudget: number;
  /** JupyterLab on the Ray head (SSH tunnel only). */
  readonly jupyter: boolean;
}

/** The serving stack's settings (ServingStackArgs without the machines). */
export interface PlatformServingArgs {
  /** The prediction API's port (the only one open to the world). */
  readonly port: number;
  readonly apiReplicas: number;
  readonly workerReplicas: number;
  readonly endpointMode: "vip" | "dnsrr";
  readonly publishMode: "ingress" | "host";
  /** Images of the service, RabbitMQ and Redis. */
  readonly images: { readonly serving: string; readonly rabbitmq: string; readonly redis: string };
  /** `docker save` tarballs loaded on every Swarm machine. */
  readonly imageTarballs: readonly string[];
  /** Encrypt the overlay network (IPsec). */
  readonly overlayEncryption: boolean;
}

/** Model promotion's settings. */
export interface PlatformPromotionArgs {
  /** Folder on the production machines with versions/<id>/ and `current`. */
  readonly modelRoot: string;
  /** Model versions kept per production machine. */
  readonly keepVersions: number;
  /** Relative RMSE improvement the gate asks of a candidate. */
  readonly minImprovement: string;
  /** The search the printed trainCommand runs. */
  readonly train: TrainSearch;
}

/** Monitoring's settings. */
export interface PlatformMonitoringArgs {
  /** Image of the in-swarm relay and Redis exporter. */
  readonly image: string;
  /** Debian package versions on the machines. */
  readonly versions: { readonly prometheus: string; readonly alertmanager: string; readonly nodeExporter: string };
  /** Prometheus retention (a Prometheus duration). */
  readonly retention: string;
  /** Alertmanager webhook receiver (a secret); absent: alerts are only shown. */
  readonly webhookUrl?: pulumi.Output<string>;
}

/** What the platform needs, and nothing of the stack's config it does not (stacks/program.ts maps config onto it). */
export interface PlatformArgs {
  /** Stack name (an external label of the monitoring's series and alerts). */
  readonly stack: string;
  /** The machines, from the environment. */
  readonly hosts: readonly Host[];
  /** Where operators SSH first, and as whom. */
  readonly bastion: { readonly address: pulumi.Input<string>; readonly user: string; readonly ssh: pulumi.Input<string> };
  /** Source tree the scripts and the tuning workload are read from. Default: this repository. */
  readonly sourceRoot?: string;
  readonly ray: PlatformRayArgs;
  readonly serving: PlatformServingArgs;
  readonly promotion: PlatformPromotionArgs;
  /** Prometheus + Alertmanager on the orchestration machine; absent: no monitoring. */
  readonly monitoring?: PlatformMonitoringArgs;
}

/**
 * The platform on the environment's machines. Named `platform`; its parts `raycluster`, `swarm`,
 * `serving`, `promotion`, `monitoring` and the bundle steps `bundle-<host key>`. Until 73e9b66
 * they were named by the stack (`dev`, `dev-raycluster`, `dev-bundle-dev-ray-head`): each part
 * gets that name as an alias, from which its own children's former names follow
 * (components/core/names.ts).
 */
export class Platform extends pulumi.ComponentResource {
  /** ssh command line per machine name. */
  public readonly sshCommands: pulumi.Output<Record<string, string>>;
  /** Private addresses per role. */
  public readonly privateAddresses: pulumi.Output<Record<Role, string[]>>;
  /** Command that forwards the Ray dashboard to localhost:8265 through the bastion. */
  public readonly rayDashboardTunnel: pulumi.Output<string>;
  public readonly rayHeadAddress: pulumi.Output<string>;
  public readonly ray: RayCluster;
  public readonly swarm: SwarmCluster;
  public readonly swarmNodes: pulumi.Output<SwarmNode[]>;
  public readonly jupyterTunnel?: pulumi.Output<string>;
  public readonly serving: ServingStack;
  public readonly promotion: ModelPromotion;
  /** The prediction service's web page. */
  public readonly webUrl: pulumi.Output<string>;
  /** Prometheus + Alertmanager on the orchestration machine (config monitoring, default on). */
  public readonly monitoring?: Monitoring;

  constructor(name: string, args: PlatformArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:platform:Platform", name, {}, opts);
    const { hosts } = args;
    const one = (role: Role): Host => {
      const found = hostsWithRole(hosts, role);
      if (found.length !== 1) throw new pulumi.ResourceError(`Platform: expected exactly one ${role} host, got ${found.length}`, this);
      return found[0];
    };
    if (hostsWithRole(hosts, "swarm-manager").length === 0)
      throw new pulumi.ResourceError("Platform: at least one swarm-manager host is required", this);
    const head = one("ray-head");

    const { ray, serving, promotion, monitoring } = args;
    // Every machine but the bastion gets the script bundle, in parallel.
    const stack = args.stack;
    const formerly = (part: string) => ({ parent: this, aliases: [{ name: `${stack}-${part}` }] });
    const scripts = installBundles(
      new ChildNames([stack]),
      hosts.filter((x) => x.roles.some((r) => r !== "orchestration")),
      readBundle(args.sourceRoot),
      this,
    );

    this.ray = new RayCluster(
      // not `ray`: its steps would read like the machines' (`ray-head` is a machine key)
      "raycluster",
      {
        head,
        workers: hostsWithRole(hosts, "ray-worker"),
        rayVersion: ray.version,
        scripts,
        initialTuning: ray.initialTuning,
        tuningTrials: ray.tuningTrials,
        tuningTimeBudget: ray.tuningTimeBudget,
        jupyter: ray.jupyter,
      },
      formerly("raycluster"),
    );
    this.swarm = new SwarmCluster(
      "swarm",
      { managers: hostsWithRole(hosts, "swarm-manager"), workers: hostsWithRole(hosts, "swarm-worker"), scripts },
      formerly("swarm"),
    );

    const production = [...hostsWithRole(hosts, "swarm-manager"), ...hostsWithRole(hosts, "swarm-worker")];
    this.serving = new ServingStack(
      "serving",
      {
        manager: this.swarm.leader,
        nodes: production,
        swarmReady: this.swarm.ready,
        scripts,
        images: serving.images,
        apiReplicas: serving.apiReplicas,
        workerReplicas: serving.workerReplicas,
        port: serving.port,
        endpointMode: serving.endpointMode,
        publishMode: serving.publishMode,
        modelRoot: promotion.modelRoot,
        encryptOverlay: serving.overlayEncryption,
        imageTarballs: serving.imageTarballs,
        publicAddress: this.swarm.leader.publicAddress,
      },
      formerly("serving"),
    );
    // Promotion is wired after serving, so the first model lands on running workers.
    this.promotion = new ModelPromotion(
      "promotion",
      {
        development: head,
        production,
        scripts,
        modelRoot: promotion.modelRoot,
        keepVersions: promotion.keepVersions,
        minImprovement: promotion.minImprovement,
        train: promotion.train,
        after: [this.serving.ready],
        initialModel: this.ray.initialModel
          ? { dir: this.ray.initialModel.dir, version: this.ray.initialModel.version, after: [this.ray.initialModel.job] }
          : undefined,
        developmentSsh: head.sshCommand,
        rayAddress: this.ray.address,
        servingPort: serving.port,
      },
      formerly("promotion"),
    );
    this.webUrl = this.serving.url;

    // Monitoring after serving: the relay joins the serving stack's overlay network.
    if (monitoring) {
      const orchestration = hostsWithRole(hosts, "orchestration");
      if (orchestration.length !== 1)
        throw new pulumi.ResourceError(
          `Platform: monitoring needs exactly one orchestration host, got ${orchestration.length} (set rayswarm:monitoring false)`,
          this,
        );
      this.monitoring = new Monitoring(
        "monitoring",
        {
          stack: args.stack,
          orchestration: orchestration[0],
          hosts,
          serving: {
            manager: this.swarm.leader,
            ready: this.serving.ready,
            redisPassword: this.serving.redisPassword,
            // Delivered with the serving stack's tarballs and loaded before it: run by image ID.
            image: this.serving.pinned(monitoring.image),
            publishMode: serving.publishMode,
            endpointMode: serving.endpointMode,
            apiReplicas: serving.apiReplicas,
            workerReplicas: serving.workerReplicas,
            modelRoot: promotion.modelRoot,
          },
          versions: monitoring.versions,
          retention: monitoring.retention,
          webhookUrl: monitoring.webhookUrl,
          bastion: args.bastion,
          // Ray's metrics export (8090, rayStartPortArgs) needs ray[default]: the tuning
          // requirements pin ray[default,tune] and its dependencies.
          rayMetrics: true,
        },
        formerly("monitoring"),
      );
    }

    this.sshCommands = pulumi.all(Object.fromEntries(hosts.map((h) => [h.name, h.sshCommand]))) as pulumi.Output<Record<string, string>>;
    this.privateAddresses = pulumi.all(
      Object.fromEntries(ROLES.map((r) => [r, hostsWithRole(hosts, r).map((h) => h.privateAddress)])),
    ) as unknown as pulumi.Output<Record<Role, string[]>>;
    this.rayHeadAddress = pulumi.output(head.privateAddress);
    this.rayDashboardTunnel = this.ray.dashboardTunnel;
    this.jupyterTunnel = this.ray.jupyterTunnel;
    this.swarmNodes = this.swarm.nodes;

    this.registerOutputs({
      sshCommands: this.sshCommands,
      privateAddresses: this.privateAddresses,
      rayDashboardTunnel: this.rayDashboardTunnel,
      rayHeadAddress: this.rayHeadAddress,
      swarmNodes: this.swarmNodes,
      webUrl: this.webUrl,
    });
  }
}
