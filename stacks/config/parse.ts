/**
 * Raw config -> PlatformConfig: every key read through the table, then the rules across keys,
 * then the typed result. Pure but for the image tarballs it reads and the OpenStack credentials
 * it looks for; throws ConfigError listing every problem.
 */
import * as pulumi from "@pulumi/pulumi";
import type { Role } from "../../components/core/roles";
import { deliveryProblems, readTarballs } from "./images";
import { countOf, inventoryHosts } from "./inventory";
import { PROJECT } from "./keys";
import { Raw, Reader } from "./reader";
import { inventoryRules, networkRules, servingRules, sshKeyRules } from "./rules";
import { openstackCredentials } from "./env";
import { ConfigError, PlatformConfig } from "./types";

/** @param secretKeys the keys stored as secrets ("rayswarm:key"); empty: unknown, not checked. */
export function parsePlatformConfig(raw: Raw, stack: string, secretKeys: readonly string[] = []): PlatformConfig {
  const r = new Reader(raw, secretKeys);
  const c = r.values();
  const hosts = c.hosts === undefined ? undefined : inventoryHosts(c.hosts, c.sshUser);

  sshKeyRules(r, c);
  networkRules(r, c);
  servingRules(r, c);
  inventoryRules(r, c, hosts);
  const delivered = readTarballs(c, !r.invalid.has("imageTarballs"), r.problems);
  r.problems.push(...deliveryProblems(c, delivered));
  if (r.problems.length > 0) throw new ConfigError(r.problems);

  const machines = hosts ?? [];
  const count = (role: Role) => countOf(machines, role);
  return {
    project: PROJECT,
    stack,
    environment: c.environment,
    deploy: c.deploy,
    ssh: {
      user: c.sshUser,
      publicKey: c.sshPublicKey,
      privateKey: c.sshPrivateKey === undefined ? undefined : pulumi.secret(c.sshPrivateKey),
    },
    adminCidr: c.adminCidr,
    networkCidr: c.networkCidr,
    counts:
      c.environment === "existing"
        ? { rayWorkers: count("ray-worker"), swarmManagers: count("swarm-manager"), swarmWorkers: count("swarm-worker") }
        : { rayWorkers: c.rayWorkers, swarmManagers: c.swarmManagers, swarmWorkers: c.swarmWorkers },
    openstack: {
      image: c.image,
      externalNetwork: c.externalNetwork,
      externalNetworkId: c.externalNetworkId,
      credentials: openstackCredentials(raw),
      dnsNameservers: c.dnsNameservers,
      flavors: {
        orchestration: c.bastionFlavor,
        "ray-head": c.rayHeadFlavor,
        "ray-worker": c.rayWorkerFlavor,
        "swarm-manager": c.swarmManagerFlavor,
        "swarm-worker": c.swarmWorkerFlavor,
      },
    },
    versions: { ray: c.rayVersion, docker: c.dockerVersion },
    serving: {
      port: c.servingPort,
      apiReplicas: c.apiReplicas,
      workerReplicas: c.workerReplicas,
      endpointMode: c.endpointMode,
      publishMode: c.publishMode,
      images: { serving: c.servingImage, rabbitmq: c.rabbitmqImage, redis: c.redisImage },
      imageTarballs: c.imageTarballs,
      overlayEncryption: c.overlayEncryption,
    },
    tuning: { initial: c.initialTuning, trials: c.tuningTrials, timeBudgetSeconds: c.tuningTimeBudget, jupyter: c.jupyter },
    promotion: {
      modelRoot: c.modelRoot,
      keepVersions: c.keepModelVersions,
      minImprovement: c.gateMinImprovement,
      train: { trials: c.trainTrials, timeBudgetSeconds: c.trainTimeBudget, seed: c.trainSeed },
    },
    monitoring: {
      enabled: c.monitoring,
      retention: c.monitoringRetention,
      webhookUrl: c.monitoringWebhookUrl === undefined ? undefined : pulumi.secret(c.monitoringWebhookUrl),
      image: c.monitoringImage,
      versions: { prometheus: c.prometheusVersion, alertmanager: c.alertmanagerVersion, nodeExporter: c.nodeExporterVersion },
    },
    hosts: machines,
    local: { nodeImage: c.localNodeImage, pipCache: c.localPipCache },
  };
}
