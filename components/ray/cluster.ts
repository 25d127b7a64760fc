import * as pulumi from "@pulumi/pulumi";
import { ChildNames } from "../core/names";
import * as command from "@pulumi/command";
import { Host, sshTunnel } from "../host";
import { REMOTE_CURRENT } from "../remote";
import { BundleScripts, HostScripts } from "../runner";
import { RAY_PORTS, rayStartPortArgs } from "../core/ports";

export interface RayClusterArgs {
  /** The head node (development server). */
  readonly head: Host;
  /** Worker nodes (may be empty). */
  readonly workers: readonly Host[];
  /** Pinned Ray version; must match the tuning workload's requirements. */
  readonly rayVersion: string;
  /** The script bundle, installed on every node (components/runner.ts installBundles). */
  readonly scripts: HostScripts<BundleScripts>;
  /** Run the initial tuning job during `pulumi up`. Default: true. */
  readonly initialTuning?: boolean;
  /** Trials and time budget (seconds) of the initial job (config: tuningTrials, tuningTimeBudget). */
  readonly tuningTrials: number;
  readonly tuningTimeBudget: number;
  /** Run JupyterLab on the head (127.0.0.1 only, SSH tunnel). Default: false. */
  readonly jupyter?: boolean;
  /** Seconds to wait for all nodes. Default: 600. */
  readonly waitSeconds?: number;
}

/** Where the initial model lands on the head. */
export const INITIAL_MODEL_DIR = "/var/lib/rayswarm/tuning/initial";
export const JUPYTERLAB_VERSION = "4.5.0";
export const JUPYTER_PORT = 8888;

/**
 * Ray on Hosts: pinned Ray + the tuning requirements in a venv on every node, the head and
 * workers as systemd units bound to private addresses, a wait for the full node count, and
 * optionally JupyterLab and the initial tuning job on the head.
 */
export class RayCluster extends pulumi.ComponentResource {
  /** `<head private address>:6379`, what `ray.init(address=...)` takes inside the cluster. */
  public readonly address: pulumi.Output<string>;
  public readonly headAddress: pulumi.Output<string>;
  /** Command that forwards the dashboard to localhost:8265 through the bastion. */
  public readonly dashboardTunnel: pulumi.Output<string>;
  /** Command that forwards JupyterLab to localhost:8888 (only when enabled). */
  public readonly jupyterTunnel?: pulumi.Output<string>;
  /** Nodes in the cluster: the head and every worker, each of whose join steps waited for it. */
  public readonly nodeCount: pulumi.Output<number>;
  /** Depend on this to use the cluster. */
  public readonly ready: command.remote.Command;
  /** The initial tuning job (absent when disabled) and the model it wrote on the head. */
  public readonly initialModel?: { readonly job: command.remote.Command; readonly dir: string; readonly version: pulumi.Output<string> };

  constructor(name: string, args: RayClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:ray:RayCluster", name, {}, opts);
    const names = ChildNames.of(opts, name);
    if (!/^\d+\.\d+\.\d+$/.test(args.rayVersion))
      throw new pulumi.ResourceError(
        `RayCluster ${name}: args.rayVersion must be an exact version such as 2.60.0 (got ${args.rayVersion})`,
        this,
      );
    const who = `RayCluster ${name}`;
    const on = (h: Host) => args.scripts.on(h, this, who);
    const all = [args.head, ...args.workers];
    const runners = Object.fromEntries(all.map((h) => [h.name, on(h)]));
    const headRun = runners[args.head.name];
    const requirements = args.scripts.set.file("tuning/requirements.txt");
    if (!requirements) throw new pulumi.ResourceError(`RayCluster ${name}: the bundle has no tuning/requirements.txt`, this);
    const pinned = /^ray(\[[^\]]*\])?==([^\s;]+)/m.exec(requirements.content)?.[2];
    if (pinned && pinned !== args.rayVersion)
      throw new pulumi.ResourceError(
        `RayCluster ${name}: args.rayVersion is ${args.rayVersion} but workloads/tuning/requirements.txt pins ray==${pinned}: set rayswarm:rayVersion to ${pinned}`,
        this,
      );

    const installUses = ["host/common.sh", "host/ray-install.sh", "tuning/requirements.txt"];
    const installTrigger = args.scripts.set.filesHash(installUses);
    const gcs = pulumi.interpolate`${args.head.privateAddress}:${RAY_PORTS.gcs}`;

    // Install Ray everywhere, in parallel. Each node gets a lifecycle resource first whose
    // delete stops Ray and removes the unit (scale-in / destroy).
    const installed: Record<string, command.remote.Command> = {};
    for (const h of all) {
      const run = runners[h.name];
      const stop = run.undo(names.child("stop", h), "host/ray-stop.sh");
      installed[h.name] = run.run(names.child("install", h), "host/ray-install.sh", {
        args: [args.rayVersion, `${REMOTE_CURRENT}/tuning/requirements.txt`],
        uses: installUses,
        triggers: [args.rayVersion],
        after: [stop],
      });
    }

    const head = headRun.run(names.child("head"), "host/ray-head.sh", {
      args: [args.head.privateAddress, RAY_PORTS.gcs, RAY_PORTS.dashboard, ...rayStartPortArgs("head")],
      // A new Ray install (version or requirements) restarts Ray too.
      triggers: [installTrigger, args.rayVersion, args.head.privateAddress],
      after: [installed[args.head.name]],
    });

    // Workers join the head's private address, all in parallel, each after the head is up.
    const workers = args.workers.map((w) =>
      runners[w.name].run(names.child("worker", w), "host/ray-worker.sh", {
        args: [gcs, w.privateAddress, ...rayStartPortArgs("worker")],
        peers: [args.head],
        triggers: [installTrigger, args.rayVersion, w.privateAddress],
        after: [installed[w.name], head],
      }),
    );

    // The whole cluster up before the first job. It runs when the cluster is made; a later
    // scale-out only adds workers, each of whose join waits for itself (ray-worker.sh), so the
    // count in its command line is not a reason to run it again (ignoreChanges).
    const expected = 1 + args.workers.length;
    this.ready = headRun.run(names.child("wait"), "host/ray-wait.sh", {
      args: [gcs, expected, args.waitSeconds ?? 600],
      after: [head, ...workers],
      opts: { ignoreChanges: ["create"] },
    });
    this.nodeCount = pulumi.all([this.ready.stdout, ...workers.map((w) => w.stdout)]).apply(() => expected);

    // The dashboard accepts only the Ray machines (security groups): the tunnel ends on the head,
    // through the bastion like every ssh line to it.
    const dash = RAY_PORTS.dashboard;
    this.dashboardTunnel = sshTunnel(
      args.head.sshCommand,
      pulumi.interpolate`${dash}:${args.head.privateAddress}:${dash}`,
      `then open http://localhost:${dash}`,
    );

    if (args.jupyter) {
      headRun.run(names.child("jupyter"), "host/jupyter.sh", {
        args: [JUPYTERLAB_VERSION, JUPYTER_PORT],
        triggers: [JUPYTERLAB_VERSION],
        after: [installed[args.head.name]],
      });
      // JupyterLab listens on the head's loopback only: the tunnel hops bastion -> head.
      this.jupyterTunnel = sshTunnel(
        args.head.sshCommand,
        `${JUPYTER_PORT}:127.0.0.1:${JUPYTER_PORT}`,
        `then open http://localhost:${JUPYTER_PORT}; token: sudo cat /etc/rayswarm/jupyter-token on the head`,
      );
    }

    if (args.initialTuning ?? true) {
      const job = headRun.run(names.child("initial-tuning"), "host/tune-initial.sh", {
        args: [gcs, INITIAL_MODEL_DIR, args.tuningTrials, args.tuningTimeBudget],
        // The model is made once; later edits to the tuning code don't re-run it (promote new models instead).
        uses: [],
        triggers: [INITIAL_MODEL_DIR],
        after: [this.ready],
      });
      this.initialModel = {
        job,
        dir: INITIAL_MODEL_DIR,
        version: job.stdout.apply((out) => {
          const v = /version=(\S+)/.exec(out)?.[1];
          if (!v) throw new Error(`RayCluster ${name}: tune-initial.sh printed no version`);
          return v;
        }),
      };
    }

    this.headAddress = pulumi.output(args.head.privateAddress);
    this.address = gcs;
    this.registerOutputs({
      address: this.address,
      headAddress: this.headAddress,
      dashboardTunnel: this.dashboardTunnel,
      jupyterTunnel: this.jupyterTunnel,
      nodeCount: this.nodeCount,
      initialModelVersion: this.initialModel?.version,
    });
  }
}
