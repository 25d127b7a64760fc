/**
 * The `existing` stack's wiring: the inventory (rayswarm:hosts) and key mapped onto an
 * ExistingEnvironment (components/existing).
 */
import { ExistingEnvironment } from "../components/existing";
import type { PlatformConfig } from "./config";
import { aliasesFrom } from "../components/core";

export { existingReadyScript } from "../components/existing";

export function existingEnvironment(cfg: PlatformConfig): ExistingEnvironment {
  if (!cfg.ssh.privateKey) throw new Error("existingEnvironment: sshPrivateKey is required (validated by stacks/config/)");
  return new ExistingEnvironment(
    "existing",
    { stack: cfg.stack, machines: cfg.hosts, privateKey: cfg.ssh.privateKey },
    // Named by the stack until 73e9b66 (components/core/names.ts).
    { aliases: aliasesFrom([cfg.stack], "existing") },
  );
}
