/**
 * The local environment: node containers (images/node: systemd, sshd, its own Docker engine)
 * on this machine's Docker engine, created with @pulumi/docker and exposed as Hosts exactly like
 * VMs: the orchestration container is the bastion (SSH published on 127.0.0.1 only), every other
 * container is reached through it at its private address, the first Swarm manager publishes the
 * serving port on 127.0.0.1. Container flags: components/core/node-container.ts.
 */
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as tls from "@pulumi/tls";
import { childOfEnvironment, Environment, Host, MachinePlan, SshFiles } from "../core/host";
import { ChildName, ChildNames, machineChild } from "../core/names";
import { NODE_CONTAINER } from "../core/node-container";
import { SSH_PORT } from "../core/ports";
import { sshCommandLine, sshConnection, sshFilesFor } from "../host";
import { remoteCommand } from "../remote";

/** Host port of the bastion's SSH (127.0.0.1 only). */
export const LOCAL_SSH_PORT = 2222;
const EXTRA_CA_DIR = "/usr/local/share/ca-certificates";

export interface LocalEnvironmentArgs {
  /** The stack: it names and labels every Docker object, and the printed ssh lines' files. */
  readonly stack: string;
  /** The containers to make, one per machine (the first orchestration one is the bastion). */
  readonly machines: readonly MachinePlan[];
  /** The Docker network's subnet, e.g. `10.42.0.0/24`, and its gateway (the subnet's first address). */
  readonly networkCidr: string;
  readonly gateway: string;
  /** Image of the node containers (images/node). */
  readonly nodeImage: string;
  /** Login user in the containers. */
  readonly sshUser: string;
  /** The prediction API's port: the first Swarm manager publishes it on 127.0.0.1. */
  readonly servingPort: number;
  /** Folder of this machine mounted as pip's cache in every container. Default: none. */
  readonly pipCache?: string;
}

/**
 * Node containers on this machine's Docker engine, as Hosts. Its children are named by their
 * part (`net`, `ray-head`, `ray-head-ready`); they were named by the stack until 73e9b66
 * (components/core/names.ts), and carry those names as aliases.
 */
export class LocalEnvironment extends pulumi.ComponentResource implements Environment {
  public readonly hosts: Host[];
  public readonly bastionAddress: pulumi.Output<string>;
  public readonly bastionUser: string;
  /** The stack's SSH key, generated here (a secret). */
  public readonly generatedPrivateKey: pulumi.Output<string>;
  /** Every container's host key (generated here) as known_hosts lines. */
  public readonly knownHosts: pulumi.Output<string>;
  public readonly sshFiles: SshFiles;

  constructor(name: string, args: LocalEnvironmentArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:local:LocalEnvironment", name, {}, opts);
    if (!args.machines.some((m) => m.role === "orchestration"))
      throw new pulumi.ResourceError("LocalEnvironment: args.machines needs an orchestration machine (the bastion)", this);
    const stack = args.stack;
    const names = new ChildNames([stack]);
    const child = (n: ChildName, o: pulumi.CustomResourceOptions = {}) => childOfEnvironment(this, n, o);
    const user = args.sshUser;
    const sshKey = names.child("ssh");
    const key = new tls.PrivateKey(
      sshKey.name,
      { algorithm: "ED25519" },
      child(sshKey, { additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] }),
    );
    const privateKey = pulumi.secret(key.privateKeyOpenssh);
    const net = names.child("net");
    const network = new docker.Network(
      net.name,
      {
        name: `rayswarm-${stack}`,
        ipamConfigs: [{ subnet: args.networkCidr, gateway: args.gateway }],
        labels: [{ label: "rayswarm.stack", value: stack }],
      },
      child(net),
    );
    const caMount = fs.existsSync(EXTRA_CA_DIR) ? [{ hostPath: EXTRA_CA_DIR, containerPath: EXTRA_CA_DIR, readOnly: true }] : [];

    let bastion: Host | undefined;
    let bastionHostKey: pulumi.Output<string> | undefined;
    const bastionLogin = { user, address: "127.0.0.1", host: "127.0.0.1", port: LOCAL_SSH_PORT, privateKey };
    const knownHosts: pulumi.Output<string>[] = [];
    const files = sshFilesFor(stack);
    const hosts: Host[] = [];
    for (const p of args.machines) {
      const isBastion = p.role === "orchestration";
      const volumeName = machineChild(p, "docker");
      const volume = new docker.Volume(
        volumeName.name,
        { name: `${p.name}-docker`, labels: [{ label: "rayswarm.stack", value: stack }] },
        child(volumeName),
      );
      // The machine's SSH host key: generated here (a secret), put in the container at creation,
      // and checked on every connection (command provider) and in the printed ssh lines.
      const hostKeyName = machineChild(p, "host-key");
      const hostKey = new tls.PrivateKey(
        hostKeyName.name,
        { algorithm: "ED25519" },
        child(hostKeyName, { additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] }),
      );
      const ports = isBastion
        ? [{ internal: SSH_PORT, external: LOCAL_SSH_PORT, ip: "127.0.0.1" }]
        : p.role === "swarm-manager" && p.index === 0
          ? [{ internal: args.servingPort, external: args.servingPort, ip: "127.0.0.1" }]
          : [];
      const containerName = machineChild(p);
      const container = new docker.Container(
        containerName.name,
        {
          name: p.name,
          hostname: p.name,
          image: args.nodeImage,
          networksAdvanced: [{ name: network.name, ipv4Address: p.privateAddress }],
          capabilities: { adds: [...NODE_CONTAINER.capabilities.adds], drops: [...NODE_CONTAINER.capabilities.drops] },
          securityOpts: [...NODE_CONTAINER.securityOpts],
          cgroupnsMode: NODE_CONTAINER.cgroupnsMode,
          volumes: [
            { hostPath: NODE_CONTAINER.cgroupMount, containerPath: NODE_CONTAINER.cgroupMount },
            { volumeName: volume.name, containerPath: "/var/lib/docker" },
            ...caMount,
            ...(args.pipCache ? [{ hostPath: args.pipCache, containerPath: "/root/.cache/pip" }] : []),
          ],
          tmpfs: { ...NODE_CONTAINER.tmpfs },
          shmSize: NODE_CONTAINER.shmSizeMb,
          envs: [pulumi.interpolate`SSH_AUTHORIZED_KEYS=${key.publicKeyOpenssh}`],
          uploads: [{ file: "/etc/ssh/ssh_host_ed25519_key", content: pulumi.secret(hostKey.privateKeyOpenssh), permissions: "0600" }],
          ports,
          labels: [
            { label: "rayswarm.stack", value: stack },
            { label: "rayswarm.role", value: p.role },
          ],
          restart: "unless-stopped",
          mustRun: true,
        },
        child(containerName),
      );
      const connection = sshConnection({
        host: isBastion ? "127.0.0.1" : p.privateAddress,
        port: isBastion ? LOCAL_SSH_PORT : SSH_PORT,
        user,
        privateKey,
        hostKey: hostKey.publicKeyOpenssh,
        proxy: bastion ? { ...bastionLogin, hostKey: bastionHostKey! } : undefined,
      });
      if (isBastion) bastionHostKey = hostKey.publicKeyOpenssh;
      knownHosts.push(pulumi.interpolate`${isBastion ? `[127.0.0.1]:${LOCAL_SSH_PORT}` : p.privateAddress} ${hostKey.publicKeyOpenssh}`);
      const readyName = machineChild(p, "ready");
      const ready = remoteCommand(
        readyName.name,
        {
          connection,
          create: "systemctl is-system-running --wait >/dev/null || systemctl --failed --no-legend >&2; echo ready",
          triggers: [container.id],
        },
        child(readyName, { dependsOn: [container, ...(bastion ? [bastion.ready] : [])] }),
      );
      const host: Host = {
        name: p.name,
        key: p.key,
        roles: [p.role],
        privateAddress: p.privateAddress,
        user,
        identity: container.id,
        connection,
        ready,
        sshCommand: isBastion
          ? sshCommandLine({ user, address: "127.0.0.1", port: LOCAL_SSH_PORT, files })
          : sshCommandLine({ user, address: p.privateAddress, bastion: bastionLogin, files }),
        publicAddress: ports.some((x) => x.internal === args.servingPort) ? "127.0.0.1" : undefined,
        hostKey: hostKey.publicKeyOpenssh.apply((k) => k.trim()),
      };
      if (isBastion) bastion = host;
      hosts.push(host);
    }
    this.hosts = hosts;
    this.bastionAddress = pulumi.output("127.0.0.1");
    this.bastionUser = user;
    this.generatedPrivateKey = privateKey;
    this.knownHosts = pulumi.all(knownHosts).apply((lines) => lines.map((l) => `${l.trim()}\n`).join(""));
    this.sshFiles = files;
    this.registerOutputs({ bastionAddress: this.bastionAddress, knownHosts: this.knownHosts });
  }
}
