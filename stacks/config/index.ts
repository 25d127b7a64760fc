/**
 * The only place that reads Pulumi config. It turns the stack's `rayswarm:*` keys into one
 * validated, typed PlatformConfig, or fails before any resource is registered with one line per
 * bad key: the key, the bad value, what is allowed (and why, where it is not obvious).
 *
 *   keys.ts       the table: every key's kind of value (values.ts), default, secrecy, environments, docs
 *   reader.ts     reads every key through the table (unknown, unused, required, secret keys)
 *   rules.ts      rules across keys; inventory.ts the existing machines; images.ts tarballs and delivery
 *   parse.ts      raw config -> PlatformConfig (types.ts)
 *   env.ts        what comes from the process environment; suggest.ts "did you mean …?"
 *   ../network.ts IPv4 maths and every role's address block
 */
import * as pulumi from "@pulumi/pulumi";
import { secretKeysOf } from "./env";
import { parsePlatformConfig } from "./parse";
import { ConfigError, PlatformConfig } from "./types";

export { ConfigError, InventoryHost, PlatformConfig } from "./types";
export { parsePlatformConfig } from "./parse";
export { DEPLOY_MODES, DeployMode, ENVIRONMENTS, EnvironmentKind, KEYS, KeyName, KeySpec, PROJECT } from "./keys";
export { ROLES, Role } from "../../components/core/roles";
export { INTERNAL_PORTS } from "../../components/core/ports";
export { parseCidr } from "../network";

/** Reads the stack's config once. Throws a RunError (no stack trace) listing every problem. */
export function loadPlatformConfig(): PlatformConfig {
  try {
    return parsePlatformConfig(pulumi.runtime.allConfig(), pulumi.getStack(), secretKeysOf());
  } catch (e) {
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}
