/**
 * The existing environment: machines you already have, listed with one SSH private key (a
 * secret). The orchestration machine, if listed, is the jump host for all the others, as on
 * OpenStack. Nothing is created but a readiness step per machine.
 */
import * as pulumi from "@pulumi/pulumi";
import { childOfEnvironment, Connection, Environment, Host, SshFiles } from "../core/host";
import { machineChild } from "../core/names";
import type { Role } from "../core/roles";
import { SSH_PORT } from "../core/ports";
import { sshCommandLine, sshConnection, sshFilesFor } from "../host";
import { remoteCommand } from "../remote";

/** A machine of the inventory (stacks/config/ reads it from rayswarm:hosts). */
export interface ExistingMachine {
  readonly name: string;
  /** How this machine reaches it (for the bastion: from here; for the others: from the bastion). */
  readonly address: string;
  /** Address inside the cluster network. */
  readonly privateAddress: string;
  readonly port: number;
  readonly user: string;
  readonly roles: readonly Role[];
  /** The machine's SSH host key (`ssh-ed25519 AAAA…`): checked on every connection when given. */
  readonly hostKey?: string;
}

export interface ExistingEnvironmentArgs {
  /** The stack: the printed ssh lines' files are named after it. */
  readonly stack: string;
  /** The machines; the orchestration one (if any) is the jump host for the others. */
  readonly machines: readonly ExistingMachine[];
  /** The private key every machine accepts (a secret). */
  readonly privateKey: pulumi.Input<string>;
}

/**
 * Readiness on a machine we did not create: SSH works, cloud-init (if any) is done, we can be
 * root, and its hostname is the inventory name (Swarm labels and placement use hostnames).
 */
export function existingReadyScript(name: string): string {
  return [
    "set -e",
    `if [ "$(hostname)" != "${name}" ]; then echo "the machine listed as ${name} has hostname $(hostname): name it ${name} or list it as $(hostname) in rayswarm:hosts" >&2; exit 1; fi`,
    ...EXISTING_READY_LINES,
  ].join("\n");
}

const EXISTING_READY_LINES = [
  "if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null || true; fi",
  'if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then echo "$(hostname): user $(id -un) is neither root nor a passwordless sudoer" >&2; exit 1; fi',
  "echo ready",
];

/** Machines you have, as Hosts: a readiness step per machine, named `<machine>-ready` (the inventory names are the keys). */
export class ExistingEnvironment extends pulumi.ComponentResource implements Environment {
  public readonly hosts: Host[];
  public readonly bastionAddress: pulumi.Output<string>;
  public readonly bastionUser: string;
  /** known_hosts lines of the machines whose hostKey is listed (none: undefined). */
  public readonly knownHosts?: pulumi.Output<string>;
  /** The stack's known_hosts file for the printed ssh lines, when every machine's hostKey is listed. */
  public readonly sshFiles?: SshFiles;

  constructor(name: string, args: ExistingEnvironmentArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:existing:ExistingEnvironment", name, {}, opts);
    if (args.machines.length === 0) throw new pulumi.ResourceError("ExistingEnvironment: args.machines lists no machine", this);
    const privateKey = args.privateKey;
    const bastionInv = args.machines.find((h) => h.roles.includes("orchestration"));

    const unchecked = args.machines.filter((h) => !h.hostKey).map((h) => h.name);
    if (unchecked.length)
      pulumi.log.warn(
        `rayswarm:hosts: no hostKey for ${unchecked.join(", ")}: their SSH host keys are not checked (add each machine's /etc/ssh/ssh_host_ed25519_key.pub line as hostKey)`,
      );
    // With every machine's hostKey listed, the printed ssh lines check them too: they name the
    // stack's known_hosts file (sshKnownHosts, written by the sshSetup line). Without, they stay
    // bare ssh lines (your own known_hosts decides), and sshKnownHosts lists the keys that are given.
    const files = unchecked.length === 0 ? sshFilesFor(args.stack, { generatedKey: false }) : undefined;
    /** known_hosts names a machine as ssh reaches it: `address`, or `[address]:port` off port 22. */
    const knownAs = (h: ExistingMachine) => (h.port === SSH_PORT ? h.address : `[${h.address}]:${h.port}`);
    const keyed = args.machines.filter((h) => h.hostKey);
    const endpoint = (h: ExistingMachine) => ({ host: h.address, port: h.port, user: h.user, privateKey, hostKey: h.hostKey });
    const connectionOf = (h: ExistingMachine, viaBastion: boolean): pulumi.Output<Connection> =>
      sshConnection({ ...endpoint(h), proxy: viaBastion && bastionInv ? endpoint(bastionInv) : undefined });

    const makeHost = (h: ExistingMachine, bastion?: Host): Host => {
      const viaBastion = bastion !== undefined;
      const connection = connectionOf(h, viaBastion);
      const readyName = machineChild({ key: h.name, name: h.name }, "ready");
      const ready = remoteCommand(
        readyName.name,
        { connection, create: existingReadyScript(h.name), triggers: [h.address, h.user, h.port] },
        childOfEnvironment(this, readyName, { dependsOn: bastion ? [bastion.ready] : [] }),
      );
      return {
        name: h.name,
        key: h.name,
        roles: h.roles,
        privateAddress: h.privateAddress,
        user: h.user,
        identity: `${h.user}@${h.address}:${h.port}`,
        connection,
        ready,
        sshCommand: sshCommandLine({
          user: h.user,
          address: h.address,
          port: h.port,
          bastion: viaBastion && bastionInv ? { user: bastionInv.user, address: bastionInv.address, port: bastionInv.port } : undefined,
          files,
        }),
        hostKey: h.hostKey,
      };
    };

    const bastion = bastionInv ? makeHost(bastionInv) : undefined;
    const others = args.machines.filter((h) => h !== bastionInv).map((h) => makeHost(h, bastion));
    this.hosts = bastion ? [bastion, ...others] : others;
    this.bastionAddress = pulumi.output(bastionInv?.address ?? this.hosts[0].privateAddress);
    this.bastionUser = bastionInv?.user ?? this.hosts[0].user;
    this.knownHosts = keyed.length ? pulumi.output(keyed.map((h) => `${knownAs(h)} ${h.hostKey}\n`).join("")) : undefined;
    this.sshFiles = files;
    this.registerOutputs({ bastionAddress: this.bastionAddress });
  }
}
