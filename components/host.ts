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
  /**
   * What changes when the machine is replaced (instance or container id; for existing machines
   * their address and login). Every step that configures the machine carries it in `triggers`.
   */
  readonly identity: pulumi.Input<string>;
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

/** Where an operator keeps a stack's SSH key and the machines' host keys (see the sshSetup output). */
export interface SshFiles {
  /** Private key file, e.g. `~/.ssh/rayswarm-dev`; absent when the stack uses the operator's own key (agent / ~/.ssh). */
  readonly keyFile?: string;
  /** known_hosts file with every machine's host key, e.g. `~/.ssh/rayswarm-dev.known_hosts`. */
  readonly knownHostsFile: string;
}

/**
 * The conventional files of a stack whose host keys the program generated: the key file too
 * when it generated the login key (the default), not when the operator configured their own.
 */
export function sshFilesFor(stack: string, opts: { generatedKey?: boolean } = {}): SshFiles {
  const knownHostsFile = `~/.ssh/rayswarm-${stack}.known_hosts`;
  return opts.generatedKey === false ? { knownHostsFile } : { keyFile: `~/.ssh/rayswarm-${stack}`, knownHostsFile };
}

/** One SSH endpoint for sshConnection. */
export interface SshEndpoint {
  readonly host: pulumi.Input<string>;
  readonly port?: number;
  readonly user: string;
  readonly privateKey: pulumi.Input<string>;
  /** The machine's public host key (`ssh-ed25519 AAAA…`): checked when given. */
  readonly hostKey?: pulumi.Input<string>;
}

/**
 * The one connection builder: `@pulumi/command`'s connection to a machine, through a jump host
 * when given, with the same dial limits everywhere (machines that are still booting are retried
 * for up to ten minutes) and the host keys checked where they are known.
 */
export function sshConnection(target: SshEndpoint & { readonly proxy?: SshEndpoint }): pulumi.Output<Connection> {
  const endpoint = (e: SshEndpoint) => ({
    host: e.host,
    port: e.port ?? 22,
    user: e.user,
    privateKey: pulumi.secret(e.privateKey),
    hostKey: e.hostKey,
    dialErrorLimit: 60,
    perDialTimeout: 10,
  });
  return pulumi.output({ ...endpoint(target), proxy: target.proxy ? endpoint(target.proxy) : undefined }) as pulumi.Output<Connection>;
}

/**
 * The ssh command line for a machine, through the bastion when there is one. With `files`, the
 * key and known_hosts files are named for both hops (`-J` would not pass `-i` to the jump host,
 * so the jump is a ProxyCommand), and the line works when pasted.
 */
export function sshCommandLine(args: {
  user: string;
  address: pulumi.Input<string>;
  port?: number;
  bastion?: { user: string; address: pulumi.Input<string>; port?: number };
  files?: SshFiles;
}): pulumi.Output<string> {
  return pulumi.all([args.address, args.bastion?.address ?? ""]).apply(([address, bastionAddress]) => {
    const key = args.files?.keyFile ? `-i ${args.files.keyFile} -o IdentitiesOnly=yes ` : "";
    const opts = args.files ? `${key}-o UserKnownHostsFile=${args.files.knownHostsFile} ` : "";
    const port = args.port && args.port !== 22 ? `-p ${args.port} ` : "";
    if (!args.bastion) return `ssh ${opts}${port}${args.user}@${address}`;
    const bport = args.bastion.port && args.bastion.port !== 22 ? `-p ${args.bastion.port} ` : "";
    if (!args.files)
      return `ssh -J ${args.bastion.user}@${bastionAddress}${bport ? `:${args.bastion.port}` : ""} ${port}${args.user}@${address}`;
    return `ssh ${opts}-o ProxyCommand="ssh ${opts}${bport}-W %h:%p ${args.bastion.user}@${bastionAddress}" ${port}${args.user}@${address}`;
  });
}

/**
 * A tunnel line made from an ssh line (`ssh [options] user@host`): the forward goes before the
 * destination, so the key, known_hosts and jump options of the line stay as they are.
 */
export function sshTunnel(sshLine: pulumi.Input<string>, forward: pulumi.Input<string>, note: string): pulumi.Output<string> {
  return pulumi.all([sshLine, forward]).apply(([line, fwd]) => {
    const at = line.lastIndexOf(" ");
    return `${line.slice(0, at)} -N -L ${fwd}${line.slice(at)}  # ${note}`;
  });
}

/** What an environment (openstack, local, existing) hands the platform. */
export interface Environment {
  readonly hosts: Host[];
  /** Address operators SSH to first. */
  readonly bastionAddress: pulumi.Output<string>;
  readonly bastionUser: string;
  /** The generated SSH private key (secret), when none was configured. */
  readonly generatedPrivateKey?: pulumi.Output<string>;
  /** known_hosts lines of every machine, when the environment generated their host keys. */
  readonly knownHosts?: pulumi.Output<string>;
  /** The files the printed ssh lines expect the key and known hosts in (see sshFilesFor). */
  readonly sshFiles?: SshFiles;
}
