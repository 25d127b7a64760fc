/**
 * Security groups generated from the topology. The rule table is a pure function so that the
 * README, the tests and the cloud all see the same rules.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { ChildNames, withAliases } from "../core/names";
import { MONITORING_PORTS, RABBITMQ_PORT, RAY_METRICS_PORT, RAY_PORTS, REDIS_PORT, SSH_PORT, SWARM_PORTS } from "../core/ports";

/**
 * One security group per concern; a machine gets the groups of its roles. `ray-head` has no
 * rules of its own: it names the Ray head as the source of the SSH (git push) into production.
 */
export type GroupName = "bastion" | "internal" | "ray" | "ray-head" | "swarm" | "serving";
export const GROUP_NAMES: readonly GroupName[] = ["bastion", "internal", "ray", "ray-head", "swarm", "serving"];

export interface RuleSpec {
  readonly group: GroupName;
  readonly description: string;
  /** `esp` is IP protocol 50 (IPsec of Swarm's encrypted overlay); it has no ports. */
  readonly protocol: "tcp" | "udp" | "icmp" | "esp";
  readonly portMin?: number;
  readonly portMax?: number;
  /** Exactly one of remoteCidr / remoteGroup. */
  readonly remoteCidr?: string;
  readonly remoteGroup?: GroupName;
  readonly ethertype: "IPv4" | "IPv6";
}

export interface TopologyRulesArgs {
  /** The only CIDR that may SSH to the bastion. */
  readonly adminCidr: string;
  /** The cluster subnet (ICMP inside the cluster comes from it). */
  readonly clusterCidr: string;
  /** The public prediction API port. */
  readonly servingPort: number;
  /** Ray's worker port range (inclusive). */
  readonly rayWorkerPorts: readonly [number, number];
  /**
   * Whether the serving overlay is encrypted (IPsec): then ESP (IP protocol 50) is allowed
   * between the swarm machines. Default: true, like `rayswarm:overlayEncryption`.
   */
  readonly overlayEncryption?: boolean;
}

/** The ports come from the one table in components/core/ports.ts (re-exported here for older imports). */
export { RABBITMQ_PORT, RAY_METRICS_PORT, RAY_PORTS, RAY_WORKER_PORTS, REDIS_PORT, SWARM_PORTS } from "../core/ports";

/**
 * The rule table. Inside the cluster each service is open only to the group that uses it, never
 * to the whole subnet: the swarm machines face the internet (serving port), so a compromised one
 * must not reach Ray, and the Ray machines have no business with Swarm, RabbitMQ or Redis.
 */
export function topologyRules(a: TopologyRulesArgs): RuleSpec[] {
  const fromGroup =
    (group: GroupName, remoteGroup: GroupName) =>
    (description: string, protocol: "tcp" | "udp", portMin: number, portMax = portMin): RuleSpec => ({
      group,
      description,
      protocol,
      portMin,
      portMax,
      remoteGroup,
      ethertype: "IPv4",
    });
  const ray = fromGroup("ray", "ray");
  const swarm = fromGroup("swarm", "swarm");
  return [
    // SSH: to the bastion only from the admin CIDR; to everything else from the bastion.
    {
      group: "bastion",
      description: "SSH from the admin CIDR",
      protocol: "tcp",
      portMin: SSH_PORT,
      portMax: SSH_PORT,
      remoteCidr: a.adminCidr,
      ethertype: "IPv4",
    },
    {
      group: "internal",
      description: "SSH from the bastion",
      protocol: "tcp",
      portMin: SSH_PORT,
      portMax: SSH_PORT,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
    { group: "internal", description: "ICMP inside the cluster", protocol: "icmp", remoteCidr: a.clusterCidr, ethertype: "IPv4" },
    // Model promotion: the Ray head (development) git-pushes models over SSH to every production
    // machine; the Ray workers run untrusted trial code and may not.
    fromGroup("swarm", "ray-head")("SSH from the Ray head (model promotion: git push)", "tcp", SSH_PORT),
    // Ray: only between the Ray machines.
    ray("Ray GCS", "tcp", RAY_PORTS.gcs),
    ray("Ray node manager and object manager", "tcp", RAY_PORTS.nodeManager, RAY_PORTS.objectManager),
    ray("Ray dashboard (reach it with an SSH tunnel)", "tcp", RAY_PORTS.dashboard),
    ray("Ray client server", "tcp", RAY_PORTS.client),
    ray("Ray worker ports", "tcp", a.rayWorkerPorts[0], a.rayWorkerPorts[1]),
    ray("Ray dashboard agent (http, grpc) and runtime-env agent", "tcp", RAY_PORTS.dashboardAgent, RAY_PORTS.runtimeEnvAgent),
    // Swarm, RabbitMQ, Redis: only between the swarm machines.
    swarm("Swarm cluster management", "tcp", SWARM_PORTS.management),
    swarm("Swarm node gossip (tcp)", "tcp", SWARM_PORTS.gossip),
    swarm("Swarm node gossip (udp)", "udp", SWARM_PORTS.gossip),
    swarm("Swarm overlay network (VXLAN)", "udp", SWARM_PORTS.overlay),
    ...((a.overlayEncryption ?? true)
      ? [
          {
            group: "swarm",
            description: "Swarm encrypted overlay (IPsec ESP, IP protocol 50)",
            protocol: "esp",
            remoteGroup: "swarm",
            ethertype: "IPv4",
          } satisfies RuleSpec,
        ]
      : []),
    swarm("RabbitMQ (overlay traffic stays inside the cluster)", "tcp", RABBITMQ_PORT),
    swarm("Redis (overlay traffic stays inside the cluster)", "tcp", REDIS_PORT),
    // The prediction API: the only port open to the world.
    {
      group: "serving",
      description: "Prediction API (IPv4)",
      protocol: "tcp",
      portMin: a.servingPort,
      portMax: a.servingPort,
      remoteCidr: "0.0.0.0/0",
      ethertype: "IPv4",
    },
    {
      group: "serving",
      description: "Prediction API (IPv6)",
      protocol: "tcp",
      portMin: a.servingPort,
      portMax: a.servingPort,
      remoteCidr: "::/0",
      ethertype: "IPv6",
    },
    // Monitoring (components/monitoring): scraped by Prometheus on the bastion only.
    {
      group: "internal",
      description: "Node exporter, from the bastion",
      protocol: "tcp",
      portMin: MONITORING_PORTS.nodeExporter,
      portMax: MONITORING_PORTS.nodeExporter,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
    {
      // Ray binds its metrics export on every address (its reporter agent takes no bind
      // address), so this rule is what keeps it inside: from the bastion only, not even from
      // the other Ray machines (nothing of Ray's own reads it).
      group: "ray",
      description: "Ray metrics export, from the bastion",
      protocol: "tcp",
      portMin: RAY_METRICS_PORT,
      portMax: RAY_METRICS_PORT,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
    {
      group: "swarm",
      description: "Monitoring relay /federate, from the bastion",
      protocol: "tcp",
      portMin: MONITORING_PORTS.relay,
      portMax: MONITORING_PORTS.relay,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
  ];
}

export interface SecurityGroupsArgs extends TopologyRulesArgs {
  /** The stack: it names the OpenStack groups (`<stack>-ray`). */
  readonly stack: string;
}

/** A rule's remote as a name part: its group, `anywhere` for 0.0.0.0/0 and ::/0, else the CIDR slugged. */
function remoteOf(rule: RuleSpec): string {
  if (rule.remoteGroup) return rule.remoteGroup;
  const cidr = rule.remoteCidr ?? "";
  if (cidr === "0.0.0.0/0" || cidr === "::/0") return "anywhere";
  return cidr.replace(/[^0-9A-Za-z]+/g, "-").replace(/^-|-$/g, "");
}

/**
 * Resource-name suffix of a rule, from what it is: group, protocol, ports, remote (and `v6`), e.g.
 * `ray-tcp-6380-6381-from-ray`, `serving-tcp-8080-from-anywhere-v6`. Neither its position in the
 * list nor its description: adding a rule or rewording one renames no other.
 */
export function ruleName(rule: RuleSpec): string {
  const ports =
    rule.portMin === undefined
      ? ""
      : rule.portMax === undefined || rule.portMax === rule.portMin
        ? `-${rule.portMin}`
        : `-${rule.portMin}-${rule.portMax}`;
  return `${rule.group}-${rule.protocol}${ports}-from-${remoteOf(rule)}${rule.ethertype === "IPv6" ? "-v6" : ""}`;
}

/**
 * The name suffix rules had up to 03aff1e (group, description slugged without parentheses,
 * protocol): each rule keeps it as an alias, so a deployed stack renames its rules in place.
 */
export function ruleKey(rule: RuleSpec): string {
  const slug = rule.description
    .toLowerCase()
    .replace(/\(.*?\)/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  return `${rule.group}-${slug}-${rule.protocol}${rule.ethertype === "IPv6" ? "-v6" : ""}`;
}

/**
 * Creates one security group per GroupName with the topology's rules. Children: the groups by
 * name (`ray`), the rules by content (`ray-tcp-6379-from-ray`); until 73e9b66 both started with
 * the stack, and until 03aff1e a rule was named by its description (ruleKey): both are aliases.
 */
export class SecurityGroups extends pulumi.ComponentResource {
  /**
   * Security group IDs by name. Each ID waits for its group's rules: a port that uses it
   * depends on them, so `pulumi destroy` deletes the machines (and runs their `delete` steps
   * over SSH) before it deletes the rules that let SSH in.
   */
  public readonly ids: Readonly<Record<GroupName, pulumi.Output<string>>>;
  public readonly rules: readonly RuleSpec[];
  /** The rule resources of each group. */
  public readonly ruleResources: Readonly<Record<GroupName, readonly openstack.networking.SecGroupRule[]>>;

  constructor(name: string, args: SecurityGroupsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:openstack:SecurityGroups", name, {}, opts);
    if (!args.adminCidr)
      throw new pulumi.ResourceError("SecurityGroups: args.adminCidr is required: the CIDR allowed to SSH to the bastion", this);
    if (args.adminCidr.endsWith("/0"))
      throw new pulumi.ResourceError("SecurityGroups: args.adminCidr must not be /0: SSH would be open to the internet", this);

    const stack = args.stack;
    const former = new ChildNames([stack]);
    const groupNames = GROUP_NAMES;
    const groups = Object.fromEntries(
      groupNames.map((g) => {
        const n = former.child(g);
        const group = new openstack.networking.SecGroup(
          n.name,
          { name: `${stack}-${g}`, description: `rayswarm ${g} (${stack})`, deleteDefaultRules: false },
          withAliases(n, { parent: this }),
        );
        return [g, group];
      }),
    ) as Record<GroupName, openstack.networking.SecGroup>;

    this.rules = topologyRules(args);
    const names = this.rules.map(ruleName);
    const dup = names.find((k, i) => names.indexOf(k) !== i);
    if (dup) throw new pulumi.ResourceError(`SecurityGroups: two rules are the same rule (${dup}): drop one`, this);
    const formerKeys = this.rules.map(ruleKey);
    const formerDup = formerKeys.find((k, i) => formerKeys.indexOf(k) !== i);
    if (formerDup)
      throw new pulumi.ResourceError(`SecurityGroups: two rules share the former name ${formerDup}: give them distinct descriptions`, this);
    const ruleResources = Object.fromEntries(groupNames.map((g) => [g, [] as openstack.networking.SecGroupRule[]])) as Record<
      GroupName,
      openstack.networking.SecGroupRule[]
    >;
    this.rules.forEach((rule, i) => {
      ruleResources[rule.group].push(
        new openstack.networking.SecGroupRule(
          names[i],
          {
            securityGroupId: groups[rule.group].id,
            direction: "ingress",
            ethertype: rule.ethertype,
            protocol: rule.protocol,
            portRangeMin: rule.portMin,
            portRangeMax: rule.portMax,
            remoteIpPrefix: rule.remoteCidr,
            remoteGroupId: rule.remoteGroup ? groups[rule.remoteGroup].id : undefined,
            description: rule.description,
          },
          // Named by content since #15, without the stack since 73e9b66: the names it had are aliases.
          { parent: this, aliases: [{ name: `${stack}-${names[i]}` }, { name: `${stack}-${formerKeys[i]}` }] },
        ),
      );
    });

    this.ruleResources = ruleResources;
    this.ids = Object.fromEntries(
      groupNames.map((g) => [g, pulumi.all([groups[g].id, ...ruleResources[g].map((r) => r.id)]).apply(([id]) => id)]),
    ) as Record<GroupName, pulumi.Output<string>>;
    this.registerOutputs({ ids: this.ids });
  }
}
