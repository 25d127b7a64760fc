import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import * as tls from "@pulumi/tls";
import type * as command from "@pulumi/command";
import type { Role } from "../core/roles";
import { Connection, Host, SshFiles, sshCommandLine, sshConnection } from "../host";
import { cloudConfig, renderCloudConfig } from "./cloudinit";
import { remoteCommand } from "../remote";
import { ChildNames } from "../core/names";

export interface MachineArgs {
  /** The machine name (`dev-ray-head`): its hostname, the instance's and port's names. */
  readonly hostname: string;
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
  readonly bastion?: {
    readonly address: pulumi.Input<string>;
    readonly user: string;
    readonly ready: pulumi.Resource;
    /** The bastion's public SSH host key, checked on the jump. */
    readonly hostKey: pulumi.Input<string>;
  };
  /** The files the printed ssh line names (key, known_hosts). Default: none (a bare ssh line). */
  readonly sshFiles?: SshFiles;
  /** Resources to create first (e.g. the router interface, so cloud-init can reach mirrors). */
  readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
  /**
   * Whether `ready` waits for cloud-init over SSH (a remote command). Default: true. False
   * (`rayswarm:deploy: infrastructure`): nothing logs in; `ready` is the instance itself.
   */
  readonly checkReady?: boolean;
}

/**
 * One VM: port with a fixed IP, instance with cloud-init, optional floating IP, readiness step.
 * Named by the machine's key (`ray-head`), its children `<key>-port`, `<key>-vm`…; until 73e9b66
 * by the machine name (components/core/names.ts).
 */
export class Machine extends pulumi.ComponentResource implements Host {
  public readonly name: string;
  public readonly key: string;
  public readonly roles: readonly Role[];
  public readonly privateAddress: pulumi.Output<string>;
  public readonly publicAddress?: pulumi.Output<string>;
  public readonly user: string;
  public readonly connection: pulumi.Output<Connection>;
  /** The readiness step (cloud-init done, over SSH), or the instance when args.checkReady is false. */
  public readonly ready: command.remote.Command | openstack.compute.Instance;
  public readonly sshCommand: pulumi.Output<string>;
  public readonly instanceId: pulumi.Output<string>;
  public readonly identity: pulumi.Output<string>;
  /** The machine's SSH host key (`ssh-ed25519 AAAA…`), generated here and installed by cloud-init. */
  public readonly hostKey: pulumi.Output<string>;
  /** Its known_hosts line: the address the connection uses (floating IP for the bastion, else private) and the key. */
  public readonly knownHost: pulumi.Output<string>;

  constructor(key: string, args: MachineArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:openstack:Machine", key, {}, opts);
    const name = args.hostname;
    const names = new ChildNames([name], key);
    const child = <T extends pulumi.CustomResourceOptions>(part: string, o: T) => names.under(this, part, o);
    if (args.roles.length === 0) throw new pulumi.ResourceError(`Machine ${name}: args.roles must name at least one role`, this);
    if (!args.floatingIpPool && !args.bastion)
      throw new pulumi.ResourceError(
        `Machine ${name}: args.bastion is required for a machine without a floating IP (nothing else can reach it)`,
        this,
      );

    const [portName, portOpts] = child("port", { deleteBeforeReplace: true });
    const port = new openstack.networking.Port(
      portName,
      {
        name: `${name}-port`,
        networkId: args.networkId,
        adminStateUp: true,
        fixedIps: [{ subnetId: args.subnetId, ipAddress: args.privateAddress }],
        securityGroupIds: args.securityGroupIds,
      },
      // A replacement port asks for the same fixed address: the old one must be gone first.
      portOpts,
    );

    // The machine's SSH host key: generated here (a secret), installed by cloud-init from the
    // user data (itself a secret, since it holds the private key), checked on every connection.
    const [hostKeyName, hostKeyOpts] = child("host-key", { additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] });
    const hostKey = new tls.PrivateKey(hostKeyName, { algorithm: "ED25519" }, hostKeyOpts);
    const publicHostKey = hostKey.publicKeyOpenssh.apply((k) => k.trim());
    const userData = pulumi.secret(
      pulumi
        .all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh])
        .apply(([privateKey, publicKey]) => renderCloudConfig(cloudConfig(name, args.roles, { privateKey, publicKey }))),
    );

    const [vmName, vmOpts] = child("vm", { dependsOn: args.dependsOn, deleteBeforeReplace: true, additionalSecretOutputs: ["userData"] });
    const instance = new openstack.compute.Instance(
      vmName,
      {
        name,
        flavorName: args.flavor,
        imageName: args.image,
        keyPair: args.keyPair,
        networks: [{ port: port.id }],
        userData,
        schedulerHints: args.serverGroupId ? [{ group: args.serverGroupId }] : undefined,
        metadata: { "rayswarm-roles": args.roles.join(",") },
      },
      // The port (and its fixed address) outlives a replaced instance, and a port is attached
      // to one instance at a time: the old instance must release it before the new one boots.
      // The user data holds the host's private key: the state's copy (the provider keeps a hash) is a secret too.
      vmOpts,
    );

    let host: pulumi.Input<string> = args.privateAddress;
    let publicAddress: pulumi.Output<string> | undefined;
    if (args.floatingIpPool) {
      const [fipName, fipOpts] = child("fip", { dependsOn: args.dependsOn });
      const fip = new openstack.networking.FloatingIp(fipName, { pool: args.floatingIpPool }, fipOpts);
      // Deleting an association clears the floating IP's port whatever it points to: a
      // create-before-delete replacement would leave the address detached.
      const [assocName, assocOpts] = child("fip-assoc", { dependsOn: [instance], deleteBeforeReplace: true });
      const assoc = new openstack.networking.FloatingIpAssociate(assocName, { floatingIp: fip.address, portId: port.id }, assocOpts);
      // The address as the association reports it: every SSH connection to it (and through it,
      // for the machines behind the bastion) depends on the association, so `pulumi destroy`
      // keeps the association until the last remote `delete` step has run.
      publicAddress = assoc.floatingIp;
      // Only the bastion is reached at its public address; the others through the bastion.
      if (!args.bastion) host = assoc.floatingIp;
    }
    this.publicAddress = publicAddress;

    const connection: pulumi.Output<Connection> = sshConnection({
      host,
      user: args.user,
      privateKey: args.privateKey,
      hostKey: publicHostKey,
      proxy: args.bastion
        ? { host: args.bastion.address, user: args.bastion.user, privateKey: args.privateKey, hostKey: args.bastion.hostKey }
        : undefined,
    });

    const [readyName, readyOpts] = child("ready", { dependsOn: [instance, ...(args.bastion ? [args.bastion.ready] : [])] });
    this.ready =
      args.checkReady === false
        ? instance
        : remoteCommand(
            readyName,
            {
              connection,
              create:
                'cloud-init status --wait >/dev/null || { echo "cloud-init failed on $(hostname)" >&2; cloud-init status --long >&2; exit 1; }',
              triggers: [instance.id],
            },
            readyOpts,
          );

    this.name = name;
    this.key = key;
    this.roles = args.roles;
    this.user = args.user;
    this.privateAddress = pulumi.output(args.privateAddress);
    this.connection = connection;
    this.instanceId = instance.id;
    this.identity = instance.id;
    this.hostKey = publicHostKey;
    this.knownHost = pulumi.interpolate`${host} ${this.hostKey}`;
    this.sshCommand = sshCommandLine({
      user: args.user,
      address: host,
      bastion: args.bastion ? { user: args.bastion.user, address: args.bastion.address } : undefined,
      files: args.sshFiles,
    });
    this.registerOutputs({
      privateAddress: this.privateAddress,
      publicAddress: this.publicAddress,
      sshCommand: this.sshCommand,
      instanceId: this.instanceId,
      hostKey: this.hostKey,
    });
  }
}
