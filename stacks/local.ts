/**
 * The local environment: node containers (images/node: systemd, sshd, its own Docker engine)
 * on this machine's Docker engine, created with @pulumi/docker and exposed as Hosts exactly like
 * VMs: the orchestration container is the bastion (SSH published on 127.0.0.1 only), every other
 * container is reached through it at its private address, the Swarm managers publish the
 * serving port on 127.0.0.1. Container flags: ../shared/ARCHITECTURE.md and images/node/README.md.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as tls from "@pulumi/tls";
import type { Host } from "../components/host";
import { sshCommandLine, sshConnection, sshFilesFor } from "../components/host";
import { remoteCommand } from "../components/remote";
import { NODE_CONTAINER } from "../components/core/node-container";
import type { PlatformConfig } from "./config";
import type { Environment } from "../components/host";
import { addressAt, plannedMachines } from "./topology";

/** Host port of the bastion's SSH (127.0.0.1 only). */
export const LOCAL_SSH_PORT = 2222;
const EXTRA_CA_DIR = "/usr/local/share/ca-certificates";

export function localEnvironment(cfg: PlatformConfig, parent?: pulumi.Resource): Environment {
  const opts = parent ? { parent } : {};
  const name = cfg.stack;
  const key = new tls.PrivateKey(
    `${name}-ssh`,
    { algorithm: "ED25519" },
    { ...opts, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] },
  );
  const privateKey = pulumi.secret(key.privateKeyOpenssh);
  const network = new docker.Network(
    `${name}-net`,
    {
      name: `rayswarm-${name}`,
      ipamConfigs: [{ subnet: cfg.networkCidr, gateway: addressAt(cfg.networkCidr, 1) }],
      labels: [{ label: "rayswarm.stack", value: name }],
    },
    opts,
  );
  const caMount = fs.existsSync(EXTRA_CA_DIR) ? [{ hostPath: EXTRA_CA_DIR, containerPath: EXTRA_CA_DIR, readOnly: true }] : [];

  const planned = plannedMachines(cfg);
  let bastion: Host | undefined;
  let bastionHostKey: pulumi.Output<string> | undefined;
  const bastionLogin = { user: cfg.ssh.user, address: "127.0.0.1", host: "127.0.0.1", port: LOCAL_SSH_PORT, privateKey };
  const knownHosts: pulumi.Output<string>[] = [];
  const files = sshFilesFor(cfg.stack);
  const hosts: Host[] = [];
  for (const p of planned) {
    const isBastion = p.role === "orchestration";
    const volume = new docker.Volume(
      `${p.name}-docker`,
      { name: `${p.name}-docker`, labels: [{ label: "rayswarm.stack", value: name }] },
      opts,
    );
    // The machine's SSH host key: generated here (a secret), put in the container at creation,
    // and checked on every connection (command provider) and in the printed ssh lines.
    const hostKey = new tls.PrivateKey(
      `${p.name}-host-key`,
      { algorithm: "ED25519" },
      { ...opts, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] },
    );
    const ports = isBastion
      ? [{ internal: 22, external: LOCAL_SSH_PORT, ip: "127.0.0.1" }]
      : p.role === "swarm-manager" && p.index === 0
        ? [{ internal: cfg.serving.port, external: cfg.serving.port, ip: "127.0.0.1" }]
        : [];
    const container = new docker.Container(
      p.name,
      {
        name: p.name,
        hostname: p.name,
        image: cfg.local.nodeImage,
        networksAdvanced: [{ name: network.name, ipv4Address: p.privateAddress }],
        capabilities: { adds: [...NODE_CONTAINER.capabilities.adds], drops: [...NODE_CONTAINER.capabilities.drops] },
        securityOpts: [...NODE_CONTAINER.securityOpts],
        cgroupnsMode: NODE_CONTAINER.cgroupnsMode,
        volumes: [
          { hostPath: NODE_CONTAINER.cgroupMount, containerPath: NODE_CONTAINER.cgroupMount },
          { volumeName: volume.name, containerPath: "/var/lib/docker" },
          ...caMount,
          ...(cfg.local.pipCache ? [{ hostPath: cfg.local.pipCache, containerPath: "/root/.cache/pip" }] : []),
        ],
        tmpfs: { ...NODE_CONTAINER.tmpfs },
        shmSize: NODE_CONTAINER.shmSizeMb,
        envs: [pulumi.interpolate`SSH_AUTHORIZED_KEYS=${key.publicKeyOpenssh}`],
        uploads: [{ file: "/etc/ssh/ssh_host_ed25519_key", content: pulumi.secret(hostKey.privateKeyOpenssh), permissions: "0600" }],
        ports,
        labels: [
          { label: "rayswarm.stack", value: name },
          { label: "rayswarm.role", value: p.role },
        ],
        restart: "unless-stopped",
        mustRun: true,
      },
      opts,
    );
    const connection = sshConnection({
      host: isBastion ? "127.0.0.1" : p.privateAddress,
      port: isBastion ? LOCAL_SSH_PORT : 22,
      user: cfg.ssh.user,
      privateKey,
      hostKey: hostKey.publicKeyOpenssh,
      proxy: bastion ? { ...bastionLogin, hostKey: bastionHostKey! } : undefined,
    });
    if (isBastion) bastionHostKey = hostKey.publicKeyOpenssh;
    knownHosts.push(pulumi.interpolate`${isBastion ? `[127.0.0.1]:${LOCAL_SSH_PORT}` : p.privateAddress} ${hostKey.publicKeyOpenssh}`);
    const ready = remoteCommand(
      `${p.name}-ready`,
      {
        connection,
        create: "systemctl is-system-running --wait >/dev/null || systemctl --failed --no-legend >&2; echo ready",
        triggers: [container.id],
      },
      { ...opts, dependsOn: [container, ...(bastion ? [bastion.ready] : [])] },
    );
    const host: Host = {
      name: p.name,
      roles: [p.role],
      privateAddress: p.privateAddress,
      user: cfg.ssh.user,
      identity: container.id,
      connection,
      ready,
      sshCommand: isBastion
        ? sshCommandLine({ user: cfg.ssh.user, address: "127.0.0.1", port: LOCAL_SSH_PORT, files })
        : sshCommandLine({ user: cfg.ssh.user, address: p.privateAddress, bastion: bastionLogin, files }),
      publicAddress: ports.some((x) => x.internal === cfg.serving.port) ? "127.0.0.1" : undefined,
      hostKey: hostKey.publicKeyOpenssh.apply((k) => k.trim()),
    };
    if (isBastion) bastion = host;
    hosts.push(host);
  }
  return {
    hosts,
    bastionAddress: pulumi.output("127.0.0.1"),
    bastionUser: cfg.ssh.user,
    generatedPrivateKey: privateKey,
    knownHosts: pulumi.all(knownHosts).apply((lines) => lines.map((l) => `${l.trim()}\n`).join("")),
    sshFiles: files,
  };
}
