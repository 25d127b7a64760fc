// The mock runner lives in tools/ (npm run critical-path uses it too).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stackConfig } from "../../../tools/mock-run";

export * from "../../../tools/mock-run";

/**
 * The local stack's config with its image tarballs (Pulumi.local.yaml names files that
 * scripts/deploy-local.sh makes) replaced by small files of the same names in a temp folder:
 * the program hashes them, and refuses names that do not exist.
 */
export function localConfig(overrides: Record<string, string> = {}, content = "tar"): Record<string, string> {
  const cfg = stackConfig("local");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-tars-"));
  const tars = (JSON.parse(cfg["rayswarm:imageTarballs"]) as string[]).map((t) => {
    const f = path.join(dir, path.basename(t));
    fs.writeFileSync(f, `${content} ${path.basename(t)}`);
    return f;
  });
  return { ...cfg, "rayswarm:imageTarballs": JSON.stringify(tars), ...overrides };
}
