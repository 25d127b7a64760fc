/**
 * SSH to Hosts: the one connection builder, the printed ssh and tunnel lines, the conventional
 * key and known_hosts files. The Host, Environment and Connection types live in components/core.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Connection, SshFiles } from "./core/host";

export type { Connection, Environment, Host, SshFiles } from "./core/host";
export { hasRole, hostsWithRole } from "./core/host";

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
