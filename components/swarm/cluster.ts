import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { Host } from "../host";
import { BundleFile, BundleOnHost, hashOf, hostTriggers, lifecycle, remoteCommand, scriptCommand, scriptCommandOf } from "../remote";
import { SWARM_PORTS } from "../core/ports";

export interface SwarmClusterArgs {
  /** Swarm managers; the first one creates the swarm. An odd number >= 1. */
  readonly managers: readonly Host[];
  /** Swarm workers (may be empty). */
  readonly workers: readonly Host[];
  /** The installed script bundle per host name (components/remote.ts). */
  readonly bundles: Readonly<Record<string, BundleOnHost>>;
  /** The bundle's files, for per-script triggers. */
  readonly files: readonly BundleFile[];
}

export interface SwarmNode {
  readonly hostname: string;
  readonly role: string;
  readonly status: string;
  readonly availability: string;
  readonly labels: Record<string, string>;
}

const uses = (script: string) => ["host/common.sh", `host/${script}`];

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
    if (args.managers.length === 0 || args.managers.length % 2 === 0)
      throw new pulumi.ResourceError(
        `SwarmCluster ${name}: args.managers must be an odd number >= 1 (got ${args.managers.length}): an even count cannot keep Raft quorum`,
        this,
      );
    const all = [...args.managers, ...args.workers];
    for (const h of all)
      if (!args.bundles[h.name]) throw new pulumi.ResourceError(`SwarmCluster ${name}: args.bundles has no entry for host ${h.name}`, this);
    if (new Set(all.map((h) => h.name)).size !== all.length)
      throw new pulumi.ResourceError(`SwarmCluster ${name}: a host is listed twice (${all.map((h) => h.name).join(", ")})`, this);

    const [first, ...otherManagers] = args.managers;
    const trig = (script: string) => hashOf(args.files, uses(script));
    const managerAddress = pulumi.interpolate`${first.privateAddress}:${SWARM_PORTS.management}`;

    // 1. Docker on every node, in parallel.
    const docker: Record<string, command.remote.Command> = {};
    for (const h of all) {
      docker[h.name] = remoteCommand(
        `${name}-docker-${h.name}`,
        {
          connection: h.connection,
          create: scriptCommand("host/docker-install.sh"),
          triggers: hostTriggers(h, trig("docker-install.sh")),
          logging: "stderr",
        },
        { parent: this, dependsOn: [args.bundles[h.name].installed] },
      );
    }

    // 2. The first manager creates the swarm on its private address; on delete it leaves last.
    const firstLeave = lifecycle(`${name}-leave-${first.name}`, first.connection, scriptCommand("host/swarm-leave.sh"), {
      parent: this,
      dependsOn: [docker[first.name]],
    });
    const init = remoteCommand(
      `${name}-init`,
      {
        connection: first.connection,
        create: scriptCommandOf("host/swarm-init.sh", [first.privateAddress]),
        triggers: hostTriggers(first, trig("swarm-init.sh"), first.privateAddress),
        logging: "stderr",
      },
      { parent: this, dependsOn: [firstLeave] },
    );

    // 3. Tokens, read back as secrets (stdout is never logged).
    const tokens = remoteCommand(
      `${name}-tokens`,
      {
        connection: first.connection,
        create: scriptCommand("host/swarm-tokens.sh"),
        triggers: hostTriggers(first, trig("swarm-tokens.sh")),
        logging: "none",
      },
      { parent: this, dependsOn: [init], additionalSecretOutputs: ["stdout"] },
    );
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
      const slot = lifecycle(`${name}-slot-${h.name}`, first.connection, scriptCommand("host/swarm-node-rm.sh", [h.name]), {
        parent: this,
        dependsOn: [init],
      });
      const leave = lifecycle(`${name}-leave-${h.name}`, h.connection, scriptCommand("host/swarm-leave.sh"), {
        parent: this,
        dependsOn: [slot, docker[h.name]],
      });
      const join = remoteCommand(
        `${name}-join-${h.name}`,
        {
          connection: h.connection,
          create: scriptCommandOf("host/swarm-join.sh", [managerAddress, h.privateAddress]),
          stdin: pulumi.secret(token.apply((t) => `${t}\n`)),
          triggers: hostTriggers(h, first.identity, trig("swarm-join.sh"), h.privateAddress),
          logging: "stderr",
        },
        { parent: this, dependsOn: [leave, tokens], additionalSecretOutputs: ["stdin"] },
      );
      labelled.push(label(h, [join]));
    };
    const label = (h: Host, after: pulumi.Resource[]) =>
      remoteCommand(
        `${name}-label-${h.name}`,
        {
          connection: first.connection,
          create: scriptCommand("host/swarm-label.sh", [h.name, ...labelsFor(h)]),
          triggers: hostTriggers(h, first.identity, trig("swarm-label.sh"), ...labelsFor(h)),
          logging: "stderr",
        },
        { parent: this, dependsOn: after },
      );
    labelled.push(label(first, [init]));
    for (const m of otherManagers) joinNode(m, this.managerToken);
    for (const w of args.workers) joinNode(w, this.workerToken);

    // 5. Every node joined: the check runs once when the swarm is made (nothing of the node
    //    list is in its inputs, so adding nodes later only adds their own join + label steps).
    this.ready = remoteCommand(
      `${name}-nodes`,
      {
        connection: first.connection,
        create: scriptCommand("host/swarm-nodes.sh"),
        triggers: hostTriggers(first, trig("swarm-nodes.sh")),
        logging: "stderr",
      },
      { parent: this, dependsOn: labelled },
    );
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
