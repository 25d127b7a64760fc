// Read config -> build the environment's hosts -> put the platform on them -> export outputs.
import * as pulumi from "@pulumi/pulumi";
import { Platform } from "./components/platform";
import { buildEnvironment, loadPlatformConfig } from "./stacks";

const config = loadPlatformConfig();
const environment = buildEnvironment(config);
const platform = new Platform(config.stack, {
  config,
  hosts: environment.hosts,
  bastion: { address: environment.bastionAddress, user: environment.bastionUser },
});

export const environmentKind = config.environment;
export const bastionAddress = environment.bastionAddress;
export const sshCommands = platform.sshCommands;
export const privateAddresses = platform.privateAddresses;
export const rayHeadAddress = platform.rayHeadAddress;
export const rayDashboardTunnel = platform.rayDashboardTunnel;
export const sshPrivateKey = environment.generatedPrivateKey ? pulumi.secret(environment.generatedPrivateKey) : undefined;
