import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import type * as command from "@pulumi/command";
import type { Role } from "../../stacks/schema";
import { Connection, Host, sshCommandLine } from "../host";
import { cloudConfig, renderCloudConfig } from "./cloudinit";
import { remoteCommand } from "../remote";

export interface MachineArgs {
  /** Roles of the machine (drives packages and groups). */
  readonly roles: readonly Role[];
  /** Flavor name. */
  readonly flavor: string;
  /** Image name. */
  readonly image: string;
  /** Cluster network and subnet. */
  readonly networkId: pulumi.Input<string>;
  readonly subnetId: pulumi.Input<string>;
  /** Fixed private IPv4 address inside the subnet. */
  readonly privateAddress: string;
  /** Security group IDs for the machine's port. */
  readonly securityGroupIds: pulumi.Input<string>[];
  /** Nova keypair name. */
  readonly keyPair: pulumi.Input<string>;
  /** Login user and private key (secret) used by remote commands. */
  readonly user: string;
  readonly privateKey: pulumi.Input<string>;
  /** Server group for anti-affinity. Default: none. */
  readonly serverGroupId?: pulumi.Input<string>;
  /** External network name: when set, the machine gets a floating IP (the bastion, the serving machines). */
  readonly floatingIpPool?: string;
  /** The bastion to jump through; absent only for the bastion itself (reached at its floating IP). */
  readonly bastion?: { readonly address: pulumi.Input<string>; readonly user: string; readonly ready: pulumi.Resource };
  /** Resources to create first (e.g. the router interface, so cloud-init can reach mirrors). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** One VM: port with a fixed IP, instance with cloud-init, optional floating IP, readiness step. */
export class Machine extends pulumi.ComponentResource implements Host {
  public readonly name: string;
  public readonly roles: readonly Role[];
  public readonly privateAddress: pulumi.Output<string>;
  public readonly publicAddress?: pulumi.Output<string>;
  public readonly user: string;
  public readonly connection: pulumi.Output<Connection>;
  public readonly ready: command.remote.Command;
  public readonly sshCommand: pulumi.Output<string>;
  public readonly instanceId: pulumi.Output<string>;
  public readonly identity: pulumi.Output<string>;

  constructor(name: string, args: MachineArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:openstack:Machine", name, {}, opts);
    if (args.roles.length === 0) throw new pulumi.ResourceError(`Machine ${name}: args.roles must name at least one role`, this);
    if (!args.floatingIpPool && !args.bastion)
      throw new pulumi.ResourceError(
        `Machine ${name}: args.bastion is required for a machine without a floating IP (nothing else can reach it)`,
        this,
      );

    const port = new openstack.networking.Port(
      `${name}-port`,
      {
        name: `${name}-port`,
        networkId: args.networkId,
        adminStateUp: true,
        fixedIps: [{ subnetId: args.subnetId, ipAddress: args.privateAddress }],
        securityGroupIds: args.securityGroupIds,
      },
      { parent: this },
    );

    const instance = new openstack.compute.Instance(
      `${name}-vm`,
      {
        name,
        flavorName: args.flavor,
        imageName: args.image,
        keyPair: args.keyPair,
        networks: [{ port: port.id }],
        userData: renderCloudConfig(cloudConfig(name, args.roles)),
        schedulerHints: args.serverGroupId ? [{ group: args.serverGroupId }] : undefined,
        metadata: { "rayswarm-roles": args.roles.join(",") },
      },
      { parent: this, dependsOn: args.dependsOn },
    );

    let host: pulumi.Input<string> = args.privateAddress;
    let publicAddress: pulumi.Output<string> | undefined;
    if (args.floatingIpPool) {
      const fip = new openstack.networking.FloatingIp(
        `${name}-fip`,
        { pool: args.floatingIpPool },
        { parent: this, dependsOn: args.dependsOn },
      );
      new openstack.networking.FloatingIpAssociate(
        `${name}-fip-assoc`,
        { floatingIp: fip.address, portId: port.id },
        { parent: this, dependsOn: [instance] },
      );
      publicAddress = fip.address;
      // Only the bastion is reached at its public address; the others through the bastion.
      if (!args.bastion) host = fip.address;
    }
    this.publicAddress = publicAddress;

    const secretKey = pulumi.secret(args.privateKey);
    const connection: pulumi.Output<Connection> = pulumi.output({
      host,
      user: args.user,
      privateKey: secretKey,
      dialErrorLimit: 60,
      perDialTimeout: 10,
      proxy: args.bastion
        ? { host: args.bastion.address, user: args.bastion.user, privateKey: secretKey, dialErrorLimit: 60, perDialTimeout: 10 }
        : undefined,
    }) as pulumi.Output<Connection>;

    this.ready = remoteCommand(
      `${name}-ready`,
      {
        connection,
        create:
          'cloud-init status --wait >/dev/null || { echo "cloud-init failed on $(hostname)" >&2; cloud-init status --long >&2; exit 1; }',
        triggers: [instance.id],
      },
      { parent: this, dependsOn: [instance, ...(args.bastion ? [args.bastion.ready] : [])] },
    );

    this.name = name;
    this.roles = args.roles;
    this.user = args.user;
    this.privateAddress = pulumi.output(args.privateAddress);
    this.connection = connection;
    this.instanceId = instance.id;
    this.identity = instance.id;
    this.sshCommand = sshCommandLine({
      user: args.user,
      address: host,
      bastion: args.bastion ? { user: args.bastion.user, address: args.bastion.address } : undefined,
    });
    this.registerOutputs({
      privateAddress: this.privateAddress,
      publicAddress: this.publicAddress,
      sshCommand: this.sshCommand,
      instanceId: this.instanceId,
    });
  }
}
