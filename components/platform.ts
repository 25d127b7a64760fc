/**
 * Wires roles onto Hosts. Knows nothing of where the Hosts came from.
 */
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../stacks/config";
import type { Role } from "../stacks/schema";
import { ROLES } from "../stacks/schema";
import { Host, hostsWithRole } from "./host";
import { RAY_PORTS } from "./openstack/security";

export interface PlatformArgs {
  /** The validated stack configuration. */
  readonly config: PlatformConfig;
  /** The machines, from the environment. */
  readonly hosts: readonly Host[];
  /** Where operators SSH first, and as whom. */
  readonly bastion: { readonly address: pulumi.Input<string>; readonly user: string };
}

export class Platform extends pulumi.ComponentResource {
  /** ssh command line per machine name. */
  public readonly sshCommands: pulumi.Output<Record<string, string>>;
  /** Private addresses per role. */
  public readonly privateAddresses: pulumi.Output<Record<Role, string[]>>;
  /** Command that forwards the Ray dashboard to localhost:8265 through the bastion. */
  public readonly rayDashboardTunnel: pulumi.Output<string>;
  public readonly rayHeadAddress: pulumi.Output<string>;

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

    this.sshCommands = pulumi.all(Object.fromEntries(hosts.map((h) => [h.name, h.sshCommand]))) as pulumi.Output<Record<string, string>>;
    this.privateAddresses = pulumi.all(
      Object.fromEntries(ROLES.map((r) => [r, hostsWithRole(hosts, r).map((h) => h.privateAddress)])),
    ) as unknown as pulumi.Output<Record<Role, string[]>>;
    this.rayHeadAddress = pulumi.output(head.privateAddress);
    this.rayDashboardTunnel = pulumi
      .all([args.bastion.address, head.privateAddress])
      .apply(
        ([b, h]) =>
          `ssh -N -L ${RAY_PORTS.dashboard}:${h}:${RAY_PORTS.dashboard} ${args.bastion.user}@${b}  # then open http://localhost:${RAY_PORTS.dashboard}`,
      );

    this.registerOutputs({
      sshCommands: this.sshCommands,
      privateAddresses: this.privateAddresses,
      rayDashboardTunnel: this.rayDashboardTunnel,
      rayHeadAddress: this.rayHeadAddress,
    });
  }
}
