/**
 * The `local` stack's wiring: the config mapped onto a LocalEnvironment (components/local), which
 * makes the node containers and their Hosts.
 */
import { LocalEnvironment } from "../components/local";
import type { PlatformConfig } from "./config";
import { addressAt, plannedMachines } from "./topology";
import { aliasesFrom } from "../components/core";

export { LOCAL_SSH_PORT } from "../components/local";

export function localEnvironment(cfg: PlatformConfig): LocalEnvironment {
  return new LocalEnvironment(
    "local",
    {
      stack: cfg.stack,
      machines: plannedMachines(cfg),
      networkCidr: cfg.networkCidr,
      gateway: addressAt(cfg.networkCidr, 1),
      nodeImage: cfg.local.nodeImage,
      sshUser: cfg.ssh.user,
      servingPort: cfg.serving.port,
      pipCache: cfg.local.pipCache,
    },
    // Named by the stack until 73e9b66 (components/core/names.ts).
    { aliases: aliasesFrom([cfg.stack], "local") },
  );
}
