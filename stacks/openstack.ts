/**
 * The openstack environment: network, security groups, keypair, server groups and one VM per
 * planned machine. Returns Hosts; nothing here knows about Ray or Swarm beyond which security
 * groups a role needs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import * as tls from "@pulumi/tls";
import { ClusterNetwork, GroupName, Machine, RAY_WORKER_PORTS, SecurityGroups } from "../components/openstack";
import type { Environment } from "../components/host";
import { sshFilesFor } from "../components/host";
import type { PlatformConfig } from "./config";
import type { Role } from "./schema";
import { plannedMachines } from "./topology";

/**
 * Security groups per role. Every machine but the bastion is in "internal" (SSH from the
 * bastion); the Ray head alone is in "ray-head" (SSH into production, for model promotion).
 */
export const ROLE_GROUPS: Readonly<Record<Role, readonly GroupName[]>> = {
  orchestration: ["bastion"],
  "ray-head": ["internal", "ray", "ray-head"],
  "ray-worker": ["internal", "ray"],
  "swarm-manager": ["internal", "swarm", "serving"],
  "swarm-worker": ["internal", "swarm", "serving"],
};

export type { Environment } from "../components/host";

/**
 * A preview without OpenStack credentials (a pull request from a fork, CI): the provider is
 * given a placeholder endpoint, which it never contacts (it authenticates lazily, and nothing
 * a preview does needs the API once the external network's id is known or left unknown).
 * Everywhere else the default provider reads the usual OS_* / openstack:* settings.
 */
function previewWithoutCredentials(cfg: PlatformConfig): boolean {
  return !cfg.openstack.credentials && pulumi.runtime.isDryRun();
}
const PLACEHOLDER_AUTH_URL = "http://openstack-credentials-not-set.invalid/v3";

/**
 * The external network's id: from config when set; otherwise looked up by name (undefined
 * here), except in a preview without credentials, where it is an unknown value, shown as such,
 * like any output of a resource not created yet.
 */
function externalNetworkId(cfg: PlatformConfig): pulumi.Input<string> | undefined {
  if (cfg.openstack.externalNetworkId) return cfg.openstack.externalNetworkId;
  if (!previewWithoutCredentials(cfg)) return undefined;
  pulumi.log.info(
    `no OpenStack credentials: the id of external network "${cfg.openstack.externalNetwork}" is unknown in this preview (set rayswarm:externalNetworkId to show it)`,
  );
  return unknownOutput<string>();
}

/** An Output whose value is unknown (what the engine shows as "output<string>" in a preview). */
function unknownOutput<T>(): pulumi.Output<T> {
  // The SDK's Output class takes (resources, value, isKnown, isSecret, allResources); there is no
  // public factory for an unknown value outside a resource.
  const OutputImpl = pulumi.Output as unknown as new (...a: unknown[]) => pulumi.Output<T>;
  return new OutputImpl(new Set(), Promise.resolve(undefined), Promise.resolve(false), Promise.resolve(false), Promise.resolve(new Set()));
}

export function openstackEnvironment(cfg: PlatformConfig, parent?: pulumi.Resource): Environment {
  const name = cfg.stack;
  if (!cfg.adminCidr) throw new Error("openstackEnvironment: adminCidr is required (validated by stacks/config.ts)");
  const opts: pulumi.CustomResourceOptions = parent ? { parent } : {};
  // OpenStack resources (os) and components holding them (osc): the default provider, or the
  // placeholder one in a preview without credentials.
  let os: pulumi.CustomResourceOptions = opts;
  let osc: pulumi.ComponentResourceOptions = opts;
  if (previewWithoutCredentials(cfg)) {
    pulumi.log.info(`no OpenStack credentials: previewing with a placeholder endpoint (${PLACEHOLDER_AUTH_URL}) that is never contacted`);
    const provider = new openstack.Provider(`${name}-preview-openstack`, { authUrl: PLACEHOLDER_AUTH_URL }, opts);
    os = { ...opts, provider };
    osc = { ...opts, providers: [provider] };
  }

  const network = new ClusterNetwork(
    name,
    {
      cidr: cfg.networkCidr,
      externalNetwork: cfg.openstack.externalNetwork,
      externalNetworkId: externalNetworkId(cfg),
      dnsNameservers: cfg.openstack.dnsNameservers,
    },
    osc,
  );
  const groups = new SecurityGroups(
    name,
    {
      adminCidr: cfg.adminCidr,
      clusterCidr: cfg.networkCidr,
      servingPort: cfg.serving.port,
      rayWorkerPorts: RAY_WORKER_PORTS,
      overlayEncryption: cfg.serving.overlayEncryption,
    },
    osc,
  );

  let publicKey: pulumi.Input<string>;
  let privateKey: pulumi.Output<string>;
  let generatedPrivateKey: pulumi.Output<string> | undefined;
  if (cfg.ssh.publicKey && cfg.ssh.privateKey) {
    publicKey = cfg.ssh.publicKey;
    privateKey = cfg.ssh.privateKey;
  } else {
    const key = new tls.PrivateKey(
      `${name}-ssh`,
      { algorithm: "ED25519" },
      { ...opts, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] },
    );
    publicKey = key.publicKeyOpenssh;
    privateKey = pulumi.secret(key.privateKeyOpenssh);
    generatedPrivateKey = privateKey;
  }
  const keypair = new openstack.compute.Keypair(`${name}-keypair`, { name: `${name}-rayswarm`, publicKey }, os);

  const serverGroup = (role: string) =>
    new openstack.compute.ServerGroup(`${name}-${role}s`, { name: `${name}-${role}s`, policies: ["anti-affinity"] }, os);
  const serverGroups: Partial<Record<Role, openstack.compute.ServerGroup>> = {
    "swarm-manager": serverGroup("swarm-manager"),
    "swarm-worker": serverGroup("swarm-worker"),
    "ray-worker": serverGroup("ray-worker"),
  };

  // Every machine's host key is generated (components/openstack/machine.ts): the printed ssh
  // lines name the stack's known_hosts file, and the key file when the key was generated too.
  const files = sshFilesFor(name, { generatedKey: generatedPrivateKey !== undefined });
  const planned = plannedMachines(cfg);
  const machine = (p: (typeof planned)[number], bastion?: Machine) =>
    new Machine(
      p.name,
      {
        roles: [p.role],
        flavor: cfg.openstack.flavors[p.role],
        image: cfg.openstack.image,
        networkId: network.networkId,
        subnetId: network.subnetId,
        privateAddress: p.privateAddress,
        securityGroupIds: ROLE_GROUPS[p.role].map((g) => groups.ids[g]),
        keyPair: keypair.name,
        user: cfg.ssh.user,
        privateKey,
        serverGroupId: serverGroups[p.role]?.id,
        // The bastion (SSH) and the Swarm managers (the prediction API) get public addresses.
        floatingIpPool: !bastion || p.role === "swarm-manager" ? cfg.openstack.externalNetwork : undefined,
        bastion: bastion
          ? { address: bastion.publicAddress!, user: cfg.ssh.user, ready: bastion.ready, hostKey: bastion.hostKey }
          : undefined,
        sshFiles: files,
        dependsOn: [network.routerInterface],
        // deploy: infrastructure creates the machines only: nothing logs in to them.
        checkReady: cfg.deploy === "platform",
      },
      osc,
    );

  const bastionPlan = planned.find((p) => p.role === "orchestration")!;
  const bastion = machine(bastionPlan);
  // Siblings are independent: each machine depends on the bastion only, never on each other.
  const others = planned.filter((p) => p !== bastionPlan).map((p) => machine(p, bastion));
  const machines = [bastion, ...others];
  return {
    hosts: machines,
    bastionAddress: bastion.publicAddress!,
    bastionUser: cfg.ssh.user,
    generatedPrivateKey,
    // The bastion by its floating IP, the others by their private address (reached through it).
    knownHosts: pulumi.all(machines.map((m) => m.knownHost)).apply((lines) => lines.map((l) => `${l}\n`).join("")),
    sshFiles: files,
  };
}
