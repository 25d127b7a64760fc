/**
 * The local environment: node containers on a Docker engine (images/node), exposed as Hosts.
 */
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "./config";
import type { Environment } from "./openstack";

export function localEnvironment(cfg: PlatformConfig, parent?: pulumi.Resource): Environment {
  void parent;
  throw new pulumi.RunError(
    `rayswarm:environment local is not available yet in this version (stack ${cfg.stack}): use openstack or existing`,
  );
}
