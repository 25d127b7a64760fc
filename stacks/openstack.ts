/**
 * The openstack environment: network, security groups, keypair, server groups and one VM per
 * planned machine. Returns Hosts; nothing here knows about Ray or Swarm beyond which security
 * groups a role needs.
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import * as tls from "@pulumi/tls";
import { ClusterNetwork, GroupName, Machine, RAY_WORKER_PORTS, SecurityGroups } from "../components/openstack";
import type { Host } from "../components/host";
import type { PlatformConfig } from "./config";
import type { Role } from "./schema";
import { plannedMachines } from "./topology";

/** Security groups per role. Every machine but the bastion is in "internal" (SSH from the bastion). */
export const ROLE_GROUPS: Readonly<Record<Role, readonly GroupName[]>> = {
  orchestration: ["bastion"],
  "ray-head": ["internal", "ray"],
  "ray-worker": ["internal", "ray"],
  "swarm-manager": ["internal", "swarm", "serving"],
  "swarm-worker": ["internal", "swarm", "serving"],
};

export interface Environment {
  readonly hosts: Host[];
  /** Address operators SSH to first. */
  readonly bastionAddress: pulumi.Output<string>;
  readonly bastionUser: string;
  /** The generated SSH private key (secret), when none was configured. */
  readonly generatedPrivateKey?: pulumi.Output<string>;
}

export function openstackEnvironment(cfg: PlatformConfig, parent?: pulumi.Resource): Environment {
  const name = cfg.stack;
  if (!cfg.adminCidr) throw new Error("openstackEnvironment: adminCidr is required (validated by stacks/config.ts)");
  const opts = parent ? { parent } : {};

  const network = new ClusterNetwork(
    name,
    { cidr: cfg.openstack.networkCidr, externalNetwork: cfg.openstack.externalNetwork, dnsNameservers: cfg.openstack.dnsNameservers },
    opts,
  );
  const groups = new SecurityGroups(
    name,
    { adminCidr: cfg.adminCidr, clusterCidr: cfg.openstack.networkCidr, servingPort: cfg.serving.port, rayWorkerPorts: RAY_WORKER_PORTS },
    opts,
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
  const keypair = new openstack.compute.Keypair(`${name}-keypair`, { name: `${name}-rayswarm`, publicKey }, opts);

  const serverGroup = (role: string) =>
    new openstack.compute.ServerGroup(`${name}-${role}s`, { name: `${name}-${role}s`, policies: ["anti-affinity"] }, opts);
  const serverGroups: Partial<Record<Role, openstack.compute.ServerGroup>> = {
    "swarm-manager": serverGroup("swarm-manager"),
    "swarm-worker": serverGroup("swarm-worker"),
    "ray-worker": serverGroup("ray-worker"),
  };

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
        bastion: bastion ? { address: bastion.publicAddress!, user: cfg.ssh.user, ready: bastion.ready } : undefined,
        dependsOn: [network.routerInterface],
      },
      opts,
    );

  const bastionPlan = planned.find((p) => p.role === "orchestration")!;
  const bastion = machine(bastionPlan);
  // Siblings are independent: each machine depends on the bastion only, never on each other.
  const others = planned.filter((p) => p !== bastionPlan).map((p) => machine(p, bastion));
  return { hosts: [bastion, ...others], bastionAddress: bastion.publicAddress!, bastionUser: cfg.ssh.user, generatedPrivateKey };
}
