/**
 * The whole program as a function (index.ts exports its result; tests call it under mocks):
 * read config -> make the environment's Hosts -> put the platform on them -> outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "../components/platform";
import { loadPlatformConfig } from "./config";
import { buildEnvironment } from "./index";

/** @param opts.sourceRoot where the scripts and the tuning workload are read from (tests). */
export function program(opts: { sourceRoot?: string } = {}) {
  const config = loadPlatformConfig();
  const environment = buildEnvironment(config);
  const platform = new Platform(config.stack, {
    config,
    hosts: environment.hosts,
    bastion: { address: environment.bastionAddress, user: environment.bastionUser },
    sourceRoot: opts.sourceRoot,
  });
  return {
    environmentKind: config.environment,
    bastionAddress: environment.bastionAddress,
    sshCommands: platform.sshCommands,
    privateAddresses: platform.privateAddresses,
    rayHeadAddress: platform.rayHeadAddress,
    rayDashboardTunnel: platform.rayDashboardTunnel,
    jupyterTunnel: platform.jupyterTunnel ?? "JupyterLab is off (pulumi config set jupyter true)",
    swarmNodes: platform.swarmNodes,
    webUrl: platform.webUrl,
    modelVersion: platform.promotion.initialVersion ?? "none yet (initialTuning is off): promote one with promoteCommand",
    promoteCommand: platform.promotion.promoteCommand,
    rollbackCommand: platform.promotion.rollbackCommand,
    sshPrivateKey: environment.generatedPrivateKey ? pulumi.secret(environment.generatedPrivateKey) : "(your configured key)",
  };
}
