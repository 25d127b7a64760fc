import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { ChildNames } from "../core/names";

export interface ClusterNetworkArgs {
  /** The stack: it names the OpenStack objects (`<stack>-net`). */
  readonly stack: string;
  /** Private IPv4 CIDR of the cluster subnet, e.g. `10.42.0.0/24`. */
  readonly cidr: string;
  /** Name of the external network the router uplinks to. */
  readonly externalNetwork: string;
  /** Its id, when known (no lookup by name then). Default: looked up by name. */
  readonly externalNetworkId?: pulumi.Input<string>;
  /** DNS servers handed out by DHCP. Default: none (the cloud's). */
  readonly dnsNameservers?: readonly string[];
}

/**
 * A private network + subnet + router to the external network: children `net`, `subnet`,
 * `router`, `router-if`, named `<stack>-…` until 73e9b66 (components/core/names.ts).
 */
export class ClusterNetwork extends pulumi.ComponentResource {
  public readonly networkId: pulumi.Output<string>;
  public readonly subnetId: pulumi.Output<string>;
  public readonly routerId: pulumi.Output<string>;
  public readonly cidr: string;
  /** Depend on this before using the subnet for traffic to the outside. */
  public readonly routerInterface: openstack.networking.RouterInterface;

  constructor(name: string, args: ClusterNetworkArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:openstack:ClusterNetwork", name, {}, opts);
    if (!args.cidr) throw new pulumi.ResourceError("ClusterNetwork: args.cidr is required (e.g. 10.42.0.0/24)", this);
    if (!args.externalNetwork)
      throw new pulumi.ResourceError("ClusterNetwork: args.externalNetwork is required (the name of the external network)", this);

    const externalId =
      args.externalNetworkId ?? openstack.networking.getNetworkOutput({ name: args.externalNetwork, external: true }, { parent: this }).id;
    const stack = args.stack;
    const names = new ChildNames([stack]);
    const child = (part: string) => names.under(this, part);
    const [netName, netOpts] = child("net");
    const network = new openstack.networking.Network(netName, { name: `${stack}-net`, adminStateUp: true }, netOpts);
    const [subnetName, subnetOpts] = child("subnet");
    const subnet = new openstack.networking.Subnet(
      subnetName,
      {
        name: `${stack}-subnet`,
        networkId: network.id,
        cidr: args.cidr,
        ipVersion: 4,
        enableDhcp: true,
        dnsNameservers: args.dnsNameservers ? [...args.dnsNameservers] : undefined,
      },
      subnetOpts,
    );
    const [routerName, routerOpts] = child("router");
    const router = new openstack.networking.Router(
      routerName,
      { name: `${stack}-router`, adminStateUp: true, externalNetworkId: externalId },
      routerOpts,
    );
    const [ifName, ifOpts] = child("router-if");
    this.routerInterface = new openstack.networking.RouterInterface(ifName, { routerId: router.id, subnetId: subnet.id }, ifOpts);

    this.networkId = network.id;
    this.subnetId = subnet.id;
    this.routerId = router.id;
    this.cidr = args.cidr;
    this.registerOutputs({ networkId: this.networkId, subnetId: this.subnetId, routerId: this.routerId });
  }
}
