/**
 * The `dev`/`prod` stacks' wiring: the config mapped onto an OpenStackEnvironment
 * (components/openstack/environment.ts), and what a preview without OpenStack credentials needs
 * (a placeholder endpoint, the external network's id left unknown).
 */
import * as pulumi from "@pulumi/pulumi";
import * as openstack from "@pulumi/openstack";
import { OpenStackEnvironment } from "../components/openstack";
import type { PlatformConfig } from "./config";
import { aliasesFrom } from "../components/core";
import { plannedMachines } from "./topology";

export { ROLE_GROUPS } from "../components/openstack";
export type { Environment } from "../components/core";

/**
 * A preview without OpenStack credentials (a pull request from a fork, CI): the provider is
 * given a placeholder endpoint, which it never contacts (it authenticates lazily, and nothing
 * a preview does needs the API once the external network's id is known or left unknown).
 * Everywhere else the default provider reads the usual OS_* / openstack:* settings.
 */
function previewWithoutCredentials(cfg: PlatformConfig): boolean {
  return !cfg.openstack.credentials && pulumi.runtime.isDryRun();
}
const PLACEHOLDER_AUTH_URL = "http://openstack-credentials-not-set.invalid/v3";

/**
 * The external network's id: from config when set; otherwise looked up by name (undefined
 * here), except in a preview without credentials, where it is an unknown value, shown as such,
 * like any output of a resource not created yet.
 */
function externalNetworkId(cfg: PlatformConfig): pulumi.Input<string> | undefined {
  if (cfg.openstack.externalNetworkId) return cfg.openstack.externalNetworkId;
  if (!previewWithoutCredentials(cfg)) return undefined;
  pulumi.log.info(
    `no OpenStack credentials: the id of external network "${cfg.openstack.externalNetwork}" is unknown in this preview (set rayswarm:externalNetworkId to show it)`,
  );
  return unknownOutput<string>();
}

/** An Output whose value is unknown (what the engine shows as "output<string>" in a preview). */
function unknownOutput<T>(): pulumi.Output<T> {
  // The SDK's Output class takes (resources, value, isKnown, isSecret, allResources); there is no
  // public factory for an unknown value outside a resource.
  const OutputImpl = pulumi.Output as unknown as new (...a: unknown[]) => pulumi.Output<T>;
  return new OutputImpl(new Set(), Promise.resolve(undefined), Promise.resolve(false), Promise.resolve(false), Promise.resolve(new Set()));
}

export function openstackEnvironment(cfg: PlatformConfig): OpenStackEnvironment {
  const stack = cfg.stack;
  if (!cfg.adminCidr) throw new Error("openstackEnvironment: adminCidr is required (validated by stacks/config/)");
  // The default provider, or the placeholder one in a preview without credentials: the
  // environment's children inherit it.
  let opts: pulumi.ComponentResourceOptions = {};
  if (previewWithoutCredentials(cfg)) {
    pulumi.log.info(`no OpenStack credentials: previewing with a placeholder endpoint (${PLACEHOLDER_AUTH_URL}) that is never contacted`);
    const provider = new openstack.Provider("preview-openstack", { authUrl: PLACEHOLDER_AUTH_URL });
    opts = { providers: [provider] };
  }
  return new OpenStackEnvironment(
    "openstack",
    {
      stack,
      machines: plannedMachines(cfg),
      adminCidr: cfg.adminCidr,
      networkCidr: cfg.networkCidr,
      externalNetwork: cfg.openstack.externalNetwork,
      externalNetworkId: externalNetworkId(cfg),
      dnsNameservers: cfg.openstack.dnsNameservers,
      image: cfg.openstack.image,
      flavors: cfg.openstack.flavors,
      ssh: cfg.ssh,
      servingPort: cfg.serving.port,
      overlayEncryption: cfg.serving.overlayEncryption,
      // deploy: infrastructure creates the machines only: nothing logs in to them.
      checkReady: cfg.deploy === "platform",
    },
    // Named by the stack until 73e9b66 (components/core/names.ts).
    { ...opts, aliases: aliasesFrom([stack], "openstack") },
  );
}
