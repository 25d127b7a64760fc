// Read config -> build the environment's hosts -> put the platform on them -> export outputs.
import { program } from "./stacks/program";

const out = program();

export const environmentKind = out.environmentKind;
export const deploy = out.deploy;
export const machines = out.machines;
export const bastionAddress = out.bastionAddress;
export const sshCommands = out.sshCommands;
export const privateAddresses = out.privateAddresses;
export const rayHeadAddress = out.rayHeadAddress;
export const rayDashboardTunnel = out.rayDashboardTunnel;
export const jupyterTunnel = out.jupyterTunnel;
export const swarmNodes = out.swarmNodes;
export const webUrl = out.webUrl;
export const monitoringTunnel = out.monitoringTunnel;
export const monitoringUrl = out.monitoringUrl;
export const modelVersion = out.modelVersion;
export const promoteCommand = out.promoteCommand;
export const rollbackCommand = out.rollbackCommand;
export const trainCommand = out.trainCommand;
export const modelsCommand = out.modelsCommand;
export const sshPrivateKey = out.sshPrivateKey;
export const sshKnownHosts = out.sshKnownHosts;
export const sshSetup = out.sshSetup;
