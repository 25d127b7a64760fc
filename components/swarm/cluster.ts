import * as pulumi from "@pulumi/pulumi";
import { ChildNames } from "../core/names";
import * as command from "@pulumi/command";
import { Host } from "../host";
import { BundleScripts, HostScripts } from "../runner";
import { SWARM_PORTS } from "../core/ports";

export interface SwarmClusterArgs {
  /** Swarm managers; the first one creates the swarm. An odd number >= 1. */
  readonly managers: readonly Host[];
  /** Swarm workers (may be empty). */
  readonly workers: readonly Host[];
  /** The script bundle, installed on every node (components/runner.ts installBundles). */
  readonly scripts: HostScripts<BundleScripts>;
}

export interface SwarmNode {
  readonly hostname: string;
  readonly role: string;
  readonly status: string;
  readonly availability: string;
  readonly labels: Record<string, string>;
}

/** Node labels from roles: `rayswarm.role=manager|worker` (placement constraints use them). */
export function labelsFor(host: Host): string[] {
  const labels = [`rayswarm.host=${host.name}`];
  if (host.roles.includes("swarm-manager")) labels.push("rayswarm.role=manager");
  if (host.roles.includes("swarm-worker")) labels.push("rayswarm.role=worker");
  return labels;
}

/**
 * A Docker Swarm over Hosts: Docker verified/installed everywhere, `swarm init` on the first
 * manager, every other node joins in parallel with a token that stays a Pulumi secret, node
 * labels from roles. Delete: drain, leave, remove the node.
 */
export class SwarmCluster extends pulumi.ComponentResource {
  /** The swarm's nodes as the first manager sees them after bootstrap. */
  public readonly nodes: pulumi.Output<SwarmNode[]>;
  /** Join tokens (secret). */
  public readonly workerToken: pulumi.Output<string>;
  public readonly managerToken: pulumi.Output<string>;
  /** `<first manager private address>:2377`. */
  public readonly managerAddress: pulumi.Output<string>;
  /** Depend on this to use the swarm: every node joined and labelled. */
  public readonly ready: command.remote.Command;
  /** The manager that deploys stacks. */
  public readonly leader: Host;

  constructor(name: string, args: SwarmClusterArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:swarm:SwarmCluster", name, {}, opts);
    const names = ChildNames.of(opts, name);
    if (args.managers.length === 0 || args.managers.length % 2 === 0)
      throw new pulumi.ResourceError(
        `SwarmCluster ${name}: args.managers must be an odd number >= 1 (got ${args.managers.length}): an even count cannot keep Raft quorum`,
        this,
      );
    const all = [...args.managers, ...args.workers];
    if (new Set(all.map((h) => h.name)).size !== all.length)
      throw new pulumi.ResourceError(`SwarmCluster ${name}: a host is listed twice (${all.map((h) => h.name).join(", ")})`, this);
    const runners = Object.fromEntries(all.map((h) => [h.name, args.scripts.on(h, this, `SwarmCluster ${name}`)]));

    const [first, ...otherManagers] = args.managers;
    const leader = runners[first.name];
    const managerAddress = pulumi.interpolate`${first.privateAddress}:${SWARM_PORTS.management}`;

    // 1. Docker on every node, in parallel.
    const docker: Record<string, command.remote.Command> = {};
    for (const h of all) docker[h.name] = runners[h.name].run(names.child("docker", h), "host/docker-install.sh");

    // 2. The first manager creates the swarm on its private address; on delete it leaves last.
    const firstLeave = leader.undo(names.child("leave", first), "host/swarm-leave.sh", { after: [docker[first.name]] });
    const init = leader.run(names.child("init"), "host/swarm-init.sh", {
      args: [first.privateAddress, SWARM_PORTS.management],
      triggers: [first.privateAddress],
      after: [firstLeave],
    });

    // 3. Tokens, read back as secrets (stdout is never logged).
    const tokens = leader.run(names.child("tokens"), "host/swarm-tokens.sh", {
      logging: "none",
      after: [init],
      opts: { additionalSecretOutputs: ["stdout"] },
    });
    const parsed = tokens.stdout.apply((out) => {
      const line = out.split("\n").find((l) => l.trim().startsWith("{"));
      if (!line) throw new Error(`SwarmCluster ${name}: swarm-tokens.sh printed no JSON on ${first.name}`);
      return JSON.parse(line) as { worker: string; manager: string };
    });
    this.workerToken = pulumi.secret(parsed.apply((t) => t.worker));
    this.managerToken = pulumi.secret(parsed.apply((t) => t.manager));

    // 4. Every other node joins, all in parallel. Per node, in creation order:
    //    slot (manager side; delete = drain + remove the node record)
    //    -> leave (node side; delete = leave the swarm)
    //    -> join (token on stdin) -> label (manager side).
    //    Pulumi deletes in reverse: the node leaves first, then the manager removes it.
    const labelled: command.remote.Command[] = [];
    const joinNode = (h: Host, token: pulumi.Output<string>) => {
      const run = runners[h.name];
      const slot = leader.undo(names.child("slot", h), "host/swarm-node-rm.sh", { args: [h.name], after: [init] });
      const leave = run.undo(names.child("leave", h), "host/swarm-leave.sh", { after: [slot, docker[h.name]] });
      const join = run.run(names.child("join", h), "host/swarm-join.sh", {
        args: [managerAddress, h.privateAddress, SWARM_PORTS.management],
        stdin: token.apply((t) => `${t}\n`),
        secretStdin: true,
        peers: [first],
        triggers: [h.privateAddress],
        after: [leave, tokens],
      });
      labelled.push(label(h, [join]));
    };
    // Run on the first manager, about the node: the node's identity leads the triggers.
    const label = (h: Host, after: pulumi.Resource[]) =>
      leader.run(names.child("label", h), "host/swarm-label.sh", {
        args: [h.name, ...labelsFor(h)],
        about: h,
        triggers: labelsFor(h),
        after,
      });
    labelled.push(label(first, [init]));
    for (const m of otherManagers) joinNode(m, this.managerToken);
    for (const w of args.workers) joinNode(w, this.workerToken);

    // 5. Every node joined: the check runs once when the swarm is made (nothing of the node
    //    list is in its inputs, so adding nodes later only adds their own join + label steps).
    this.ready = leader.run(names.child("nodes"), "host/swarm-nodes.sh", { after: labelled });
    // The node list: each label step prints its node as the manager sees it once labelled.
    this.nodes = pulumi.all(labelled.map((l) => l.stdout)).apply((outs) =>
      outs
        .map((out) => out.split("\n").find((l) => l.trim().startsWith("{")))
        .filter((l): l is string => l !== undefined)
        .map((l) => JSON.parse(l) as SwarmNode)
        .sort((a, b) => a.hostname.localeCompare(b.hostname)),
    );
    this.managerAddress = managerAddress;
    this.leader = first;
    this.registerOutputs({ nodes: this.nodes, workerToken: this.workerToken, managerToken: this.managerToken, managerAddress });
  }
}
