/**
 * The local environment: node containers (images/node: systemd, sshd, its own Docker engine)
 * on this machine's Docker engine, created with @pulumi/docker and exposed as Hosts exactly like
 * VMs: the orchestration container is the bastion (SSH published on 127.0.0.1 only), every other
 * container is reached through it at its private address, the Swarm managers publish the
 * serving port on 127.0.0.1. Container flags: ../shared/ARCHITECTURE.md and images/node/README.md.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as tls from "@pulumi/tls";
import type { Connection, Host } from "../components/host";
import { sshCommandLine } from "../components/host";
import type { PlatformConfig } from "./config";
import type { Environment } from "./openstack";
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
      ipamConfigs: [{ subnet: cfg.local.networkCidr, gateway: addressAt(cfg.local.networkCidr, 1) }],
      labels: [{ label: "rayswarm.stack", value: name }],
    },
    opts,
  );
  const caMount = fs.existsSync(EXTRA_CA_DIR) ? [{ hostPath: EXTRA_CA_DIR, containerPath: EXTRA_CA_DIR, readOnly: true }] : [];

  const planned = plannedMachines(cfg);
  let bastion: Host | undefined;
  const hosts: Host[] = [];
  for (const p of planned) {
    const isBastion = p.role === "orchestration";
    const volume = new docker.Volume(
      `${p.name}-docker`,
      { name: `${p.name}-docker`, labels: [{ label: "rayswarm.stack", value: name }] },
      opts,
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
        capabilities: { adds: ["ALL"], drops: ["SYS_RESOURCE"] },
        securityOpts: ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"],
        cgroupnsMode: "host",
        volumes: [
          { hostPath: "/sys/fs/cgroup", containerPath: "/sys/fs/cgroup" },
          { volumeName: volume.name, containerPath: "/var/lib/docker" },
          ...caMount,
        ],
        tmpfs: { "/run": "", "/run/lock": "", "/tmp": "exec,mode=1777" },
        shmSize: 1024,
        envs: [pulumi.interpolate`SSH_AUTHORIZED_KEYS=${key.publicKeyOpenssh}`],
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
    const connection = pulumi.output({
      host: isBastion ? "127.0.0.1" : p.privateAddress,
      port: isBastion ? LOCAL_SSH_PORT : 22,
      user: cfg.ssh.user,
      privateKey,
      dialErrorLimit: 60,
      perDialTimeout: 10,
      proxy: isBastion
        ? undefined
        : { host: "127.0.0.1", port: LOCAL_SSH_PORT, user: cfg.ssh.user, privateKey, dialErrorLimit: 60, perDialTimeout: 10 },
    }) as pulumi.Output<Connection>;
    const ready = new command.remote.Command(
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
      connection,
      ready,
      sshCommand: isBastion
        ? sshCommandLine({ user: cfg.ssh.user, address: "127.0.0.1", port: LOCAL_SSH_PORT })
        : sshCommandLine({
            user: cfg.ssh.user,
            address: p.privateAddress,
            bastion: { user: cfg.ssh.user, address: "127.0.0.1", port: LOCAL_SSH_PORT },
          }),
      publicAddress: ports.some((x) => x.internal === cfg.serving.port) ? "127.0.0.1" : undefined,
    };
    if (isBastion) bastion = host;
    hosts.push(host);
  }
  return { hosts, bastionAddress: pulumi.output("127.0.0.1"), bastionUser: cfg.ssh.user, generatedPrivateKey: privateKey };
}
