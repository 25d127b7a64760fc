/** What the config reading takes from the process environment (set by the user or the Pulumi engine). */
import type { Raw } from "./reader";

/** OpenStack credentials are configured: OS_AUTH_URL/OS_CLOUD, or openstack:authUrl/cloud. */
export function openstackCredentials(raw: Raw, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.OS_AUTH_URL || env.OS_CLOUD || raw["openstack:authUrl"] || raw["openstack:cloud"]);
}

/** The keys the engine passes as secrets (PULUMI_CONFIG_SECRET_KEYS, a JSON list); empty when unknown. */
export function secretKeysOf(env: NodeJS.ProcessEnv = process.env): string[] {
  try {
    const keys: unknown = JSON.parse(env.PULUMI_CONFIG_SECRET_KEYS ?? "[]");
    return Array.isArray(keys) ? keys.map(String) : [];
  } catch {
    return [];
  }
}
