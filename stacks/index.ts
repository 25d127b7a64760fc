import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "./config";
import { existingEnvironment } from "./existing";
import { localEnvironment } from "./local";
import { Environment, openstackEnvironment } from "./openstack";

export { loadPlatformConfig, parsePlatformConfig, PlatformConfig, ConfigError } from "./config";
export type { Environment } from "./openstack";

/** Makes the Hosts for the configured environment. */
export function buildEnvironment(cfg: PlatformConfig, parent?: pulumi.Resource): Environment {
  switch (cfg.environment) {
    case "openstack":
      return openstackEnvironment(cfg, parent);
    case "existing":
      return existingEnvironment(cfg, parent);
    case "local":
      return localEnvironment(cfg, parent);
  }
}
