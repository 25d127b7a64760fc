/**
 * The existing environment: machines you already have, listed in stack config (rayswarm:hosts)
 * with one SSH private key (a secret). The orchestration machine, if listed, is the jump host
 * for all the others, as on OpenStack.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Connection, Host } from "../components/host";
import { sshCommandLine, sshConnection, sshFilesFor } from "../components/host";
import { remoteCommand } from "../components/remote";
import type { InventoryHost, PlatformConfig } from "./config";
import type { Environment } from "../components/host";

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

export function existingEnvironment(cfg: PlatformConfig, parent?: pulumi.Resource): Environment {
  if (!cfg.ssh.privateKey) throw new Error("existingEnvironment: sshPrivateKey is required (validated by stacks/config.ts)");
  const privateKey = cfg.ssh.privateKey;
  const opts = parent ? { parent } : {};
  const bastionInv = cfg.hosts.find((h) => h.roles.includes("orchestration"));

  const unchecked = cfg.hosts.filter((h) => !h.hostKey).map((h) => h.name);
  if (unchecked.length)
    pulumi.log.warn(
      `rayswarm:hosts: no hostKey for ${unchecked.join(", ")}: their SSH host keys are not checked (add each machine's /etc/ssh/ssh_host_ed25519_key.pub line as hostKey)`,
    );
  // With every machine's hostKey listed, the printed ssh lines check them too: they name the
  // stack's known_hosts file (sshKnownHosts, written by the sshSetup line). Without, they stay
  // bare ssh lines (your own known_hosts decides), and sshKnownHosts lists the keys that are given.
  const files = unchecked.length === 0 ? sshFilesFor(cfg.stack, { generatedKey: false }) : undefined;
  /** known_hosts names a machine as ssh reaches it: `address`, or `[address]:port` off port 22. */
  const knownAs = (h: InventoryHost) => (h.port === 22 ? h.address : `[${h.address}]:${h.port}`);
  const keyed = cfg.hosts.filter((h) => h.hostKey);
  const endpoint = (h: InventoryHost) => ({ host: h.address, port: h.port, user: h.user, privateKey, hostKey: h.hostKey });
  const connectionOf = (h: InventoryHost, viaBastion: boolean): pulumi.Output<Connection> =>
    sshConnection({ ...endpoint(h), proxy: viaBastion && bastionInv ? endpoint(bastionInv) : undefined });

  const makeHost = (h: InventoryHost, bastion?: Host): Host => {
    const viaBastion = bastion !== undefined;
    const connection = connectionOf(h, viaBastion);
    const ready = remoteCommand(
      `${h.name}-ready`,
      { connection, create: existingReadyScript(h.name), triggers: [h.address, h.user, h.port] },
      { ...opts, dependsOn: bastion ? [bastion.ready] : [] },
    );
    return {
      name: h.name,
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
  const others = cfg.hosts.filter((h) => h !== bastionInv).map((h) => makeHost(h, bastion));
  const hosts = bastion ? [bastion, ...others] : others;
  return {
    hosts,
    bastionAddress: pulumi.output(bastionInv?.address ?? hosts[0].privateAddress),
    bastionUser: bastionInv?.user ?? hosts[0].user,
    knownHosts: keyed.length ? pulumi.output(keyed.map((h) => `${knownAs(h)} ${h.hostKey}\n`).join("")) : undefined,
    sshFiles: files,
  };
}
