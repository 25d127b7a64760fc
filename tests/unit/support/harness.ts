// The mock runner lives in tools/ (npm run critical-path uses it too).
import { stackConfig } from "../../../tools/mock-run";

export * from "../../../tools/mock-run";

/**
 * The local stack's config with its image tarballs (Pulumi.local.yaml names files that
 * scripts/deploy-local.sh makes) replaced by small `docker save`-shaped files of the same names
 * in a temp folder (tools/mock-run stackConfig); `content` changes their content and image IDs.
 */
export function localConfig(overrides: Record<string, string> = {}, content = "tar"): Record<string, string> {
  return { ...stackConfig("local", content), ...overrides };
}
