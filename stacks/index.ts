import type { Environment } from "../components/core";
import type { PlatformConfig } from "./config";
import { existingEnvironment } from "./existing";
import { localEnvironment } from "./local";
import { openstackEnvironment } from "./openstack";

export { loadPlatformConfig, parsePlatformConfig, PlatformConfig, ConfigError } from "./config";
export type { Environment } from "../components/core";

/** Makes the configured environment (a component at the stack's root) and its Hosts. */
export function buildEnvironment(cfg: PlatformConfig): Environment {
  switch (cfg.environment) {
    case "openstack":
      return openstackEnvironment(cfg);
    case "existing":
      return existingEnvironment(cfg);
    case "local":
      return localEnvironment(cfg);
  }
}
