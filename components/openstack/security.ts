/**
 * Security groups generated from the topology. The rule table is a pure function so that the
 * README, the tests and the cloud all see the same rules.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";

/** One security group per concern; a machine gets the groups of its roles. */
export type GroupName = "bastion" | "internal" | "ray" | "swarm" | "serving";

export interface RuleSpec {
  readonly group: GroupName;
  readonly description: string;
  readonly protocol: "tcp" | "udp" | "icmp";
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
  /** The cluster subnet. */
  readonly clusterCidr: string;
  /** The public prediction API port. */
  readonly servingPort: number;
  /** Ray's worker port range (inclusive). */
  readonly rayWorkerPorts: readonly [number, number];
}

/** Ports Ray uses between its nodes besides the worker range (see scripts/host/ray-*.sh). */
export const RAY_PORTS = {
  gcs: 6379,
  dashboard: 8265,
  client: 10001,
  nodeManager: 6380,
  objectManager: 6381,
  dashboardAgent: 52365,
  metrics: 8090,
};
export const RAY_WORKER_PORTS: readonly [number, number] = [10002, 10999];
export const SWARM_PORTS = { management: 2377, gossip: 7946, overlay: 4789 };
export const RABBITMQ_PORT = 5672;
export const REDIS_PORT = 6379;

export function topologyRules(a: TopologyRulesArgs): RuleSpec[] {
  const inCluster = (group: GroupName, description: string, protocol: "tcp" | "udp", portMin: number, portMax = portMin): RuleSpec => ({
    group,
    description,
    protocol,
    portMin,
    portMax,
    remoteCidr: a.clusterCidr,
    ethertype: "IPv4",
  });
  return [
    // SSH: to the bastion only from the admin CIDR; to everything else only from the bastion.
    {
      group: "bastion",
      description: "SSH from the admin CIDR",
      protocol: "tcp",
      portMin: 22,
      portMax: 22,
      remoteCidr: a.adminCidr,
      ethertype: "IPv4",
    },
    {
      group: "internal",
      description: "SSH from the bastion",
      protocol: "tcp",
      portMin: 22,
      portMax: 22,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
    { group: "internal", description: "ICMP inside the cluster", protocol: "icmp", remoteCidr: a.clusterCidr, ethertype: "IPv4" },
    // Ray: only inside the cluster subnet.
    inCluster("ray", "Ray GCS", "tcp", RAY_PORTS.gcs),
    inCluster("ray", "Ray node manager and object manager", "tcp", RAY_PORTS.nodeManager, RAY_PORTS.objectManager),
    inCluster("ray", "Ray dashboard (reach it with an SSH tunnel)", "tcp", RAY_PORTS.dashboard),
    inCluster("ray", "Ray metrics export", "tcp", RAY_PORTS.metrics),
    inCluster("ray", "Ray client server", "tcp", RAY_PORTS.client),
    inCluster("ray", "Ray worker ports", "tcp", a.rayWorkerPorts[0], a.rayWorkerPorts[1]),
    inCluster(
      "ray",
      "Ray dashboard agent (http, grpc) and runtime-env agent",
      "tcp",
      RAY_PORTS.dashboardAgent,
      RAY_PORTS.dashboardAgent + 2,
    ),
    // Swarm: only inside the cluster subnet.
    inCluster("swarm", "Swarm cluster management", "tcp", SWARM_PORTS.management),
    inCluster("swarm", "Swarm node gossip (tcp)", "tcp", SWARM_PORTS.gossip),
    inCluster("swarm", "Swarm node gossip (udp)", "udp", SWARM_PORTS.gossip),
    inCluster("swarm", "Swarm overlay network (VXLAN)", "udp", SWARM_PORTS.overlay),
    inCluster("swarm", "RabbitMQ (overlay traffic stays inside the cluster)", "tcp", RABBITMQ_PORT),
    inCluster("swarm", "Redis (overlay traffic stays inside the cluster)", "tcp", REDIS_PORT),
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
    // Monitoring (components/monitoring): scraped by Prometheus on the bastion only. Appended
    // last, so the rules above keep their names (they are numbered).
    {
      group: "internal",
      description: "Node exporter, from the bastion",
      protocol: "tcp",
      portMin: 9100,
      portMax: 9100,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
    {
      group: "swarm",
      description: "Monitoring relay /federate, from the bastion",
      protocol: "tcp",
      portMin: 9091,
      portMax: 9091,
      remoteGroup: "bastion",
      ethertype: "IPv4",
    },
  ];
}

export type SecurityGroupsArgs = TopologyRulesArgs;

/** Creates one security group per GroupName with the topology's rules. */
export class SecurityGroups extends pulumi.ComponentResource {
  /** Security group IDs by name. */
  public readonly ids: Readonly<Record<GroupName, pulumi.Output<string>>>;
  public readonly rules: readonly RuleSpec[];

  constructor(name: string, args: SecurityGroupsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:openstack:SecurityGroups", name, {}, opts);
    if (!args.adminCidr)
      throw new pulumi.ResourceError("SecurityGroups: args.adminCidr is required: the CIDR allowed to SSH to the bastion", this);
    if (args.adminCidr.endsWith("/0"))
      throw new pulumi.ResourceError("SecurityGroups: args.adminCidr must not be /0: SSH would be open to the internet", this);

    const groupNames: GroupName[] = ["bastion", "internal", "ray", "swarm", "serving"];
    const groups = Object.fromEntries(
      groupNames.map((g) => [
        g,
        new openstack.networking.SecGroup(
          `${name}-${g}`,
          { name: `${name}-${g}`, description: `rayswarm ${g} (${name})`, deleteDefaultRules: false },
          { parent: this },
        ),
      ]),
    ) as Record<GroupName, openstack.networking.SecGroup>;

    this.rules = topologyRules(args);
    this.rules.forEach((rule, i) => {
      new openstack.networking.SecGroupRule(
        `${name}-${rule.group}-${i}`,
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
        { parent: this },
      );
    });

    this.ids = Object.fromEntries(groupNames.map((g) => [g, groups[g].id])) as Record<GroupName, pulumi.Output<string>>;
    this.registerOutputs({ ids: this.ids });
  }
}
