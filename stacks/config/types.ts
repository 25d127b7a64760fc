/** The typed result of reading a stack's config, and the error that lists what is wrong with it. */
import type * as pulumi from "@pulumi/pulumi";
import type { Role } from "../../components/core/roles";
import type { ExistingMachine } from "../../components/existing/environment";
import type { PlatformPromotionArgs, PlatformServingArgs } from "../../components/platform";
import type { DeployMode, EnvironmentKind } from "./keys";
import { PROJECT } from "./keys";

/** A machine of the `existing` environment: what ExistingEnvironment takes, read from rayswarm:hosts (privateAddress defaults to address; hostKey from /etc/ssh/ssh_host_ed25519_key.pub). */
export type InventoryHost = ExistingMachine;

export interface PlatformConfig {
  readonly project: string;
  readonly stack: string;
  readonly environment: EnvironmentKind;
  /** platform: machines + platform; infrastructure: the machines only (no remote command). */
  readonly deploy: DeployMode;
  readonly ssh: {
    readonly user: string;
    readonly publicKey?: string;
    /** Always a secret Output when set. */
    readonly privateKey?: pulumi.Output<string>;
  };
  readonly adminCidr?: string;
  /** The cluster network (openstack's subnet, local's Docker network); every role has a fixed block of it. */
  readonly networkCidr: string;
  readonly counts: { readonly rayWorkers: number; readonly swarmManagers: number; readonly swarmWorkers: number };
  readonly openstack: {
    readonly image: string;
    readonly externalNetwork: string;
    /** The external network's id when configured (no lookup). */
    readonly externalNetworkId?: string;
    /** OpenStack credentials are configured (OS_AUTH_URL/OS_CLOUD or openstack:authUrl/cloud). */
    readonly credentials: boolean;
    readonly dnsNameservers: readonly string[];
    readonly flavors: Readonly<Record<Role, string>>;
  };
  readonly versions: { readonly ray: string; readonly docker: string };
  /** The serving stack's settings, as Platform takes them. */
  readonly serving: PlatformServingArgs;
  readonly tuning: {
    readonly initial: boolean;
    readonly trials: number;
    readonly timeBudgetSeconds: number;
    readonly jupyter: boolean;
  };
  /** Model promotion's settings, as Platform takes them. */
  readonly promotion: PlatformPromotionArgs;
  readonly monitoring: {
    readonly enabled: boolean;
    /** Prometheus duration, e.g. 15d. */
    readonly retention: string;
    /** Alertmanager webhook receiver; always a secret Output when set. */
    readonly webhookUrl?: pulumi.Output<string>;
    /** Image of the in-swarm relay and Redis exporter. */
    readonly image: string;
    /** Debian package versions (upstream part). */
    readonly versions: { readonly prometheus: string; readonly alertmanager: string; readonly nodeExporter: string };
  };
  readonly hosts: readonly InventoryHost[];
  readonly local: {
    readonly nodeImage: string;
    /** Host folder shared by the node containers as pip's cache (Ray's venvs install faster). */
    readonly pipCache?: string;
  };
}

/** Thrown with every problem found, one per line. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration for project ${PROJECT}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}
