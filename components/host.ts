/**
 * A Host is what the role components (Ray, Swarm, serving, promotion) know of a machine: never
 * where it came from. Environments (stacks/openstack.ts, stacks/local.ts, stacks/existing.ts)
 * make Hosts; components/platform.ts puts roles on them.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Role } from "../stacks/schema";

export type Connection = command.types.input.remote.ConnectionArgs;

export interface Host {
  /** Unique machine name within the stack, e.g. `dev-swarm-worker-0`; also its hostname. */
  readonly name: string;
  /** Roles this machine plays. */
  readonly roles: readonly Role[];
  /** Address inside the cluster network: what the other machines use to reach it. */
  readonly privateAddress: pulumi.Input<string>;
  /** SSH login user. */
  readonly user: string;
  /** How `@pulumi/command` reaches it (through the bastion where needed). */
  readonly connection: pulumi.Input<Connection>;
  /** Depend on this before running anything on the machine (cloud-init done, SSH up). */
  readonly ready: pulumi.Resource;
  /** What an operator types to get a shell on it. */
  readonly sshCommand: pulumi.Input<string>;
  /** Address the world reaches it at, for machines that serve users (none otherwise). */
  readonly publicAddress?: pulumi.Input<string>;
}

export function hasRole(host: Host, role: Role): boolean {
  return host.roles.includes(role);
}

export function hostsWithRole(hosts: readonly Host[], role: Role): Host[] {
  return hosts.filter((h) => hasRole(h, role));
}

/** The ssh command line for a machine, through the bastion when there is one. */
export function sshCommandLine(args: {
  user: string;
  address: pulumi.Input<string>;
  port?: number;
  bastion?: { user: string; address: pulumi.Input<string>; port?: number };
}): pulumi.Output<string> {
  return pulumi.all([args.address, args.bastion?.address ?? ""]).apply(([address, bastionAddress]) => {
    const port = args.port && args.port !== 22 ? ` -p ${args.port}` : "";
    if (!args.bastion) return `ssh${port} ${args.user}@${address}`;
    const bport = args.bastion.port && args.bastion.port !== 22 ? `:${args.bastion.port}` : "";
    return `ssh -J ${args.bastion.user}@${bastionAddress}${bport}${port} ${args.user}@${address}`;
  });
}
