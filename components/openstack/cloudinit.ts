/**
 * cloud-init user data built from typed objects and rendered with js-yaml.
 */
import * as yaml from "js-yaml";
import type { Role } from "../../stacks/schema";

/** The subset of the cloud-config schema this project writes. */
export interface CloudConfig {
  hostname: string;
  preserve_hostname: false;
  manage_etc_hosts: boolean;
  package_update: boolean;
  package_upgrade: boolean;
  packages: string[];
  ssh_pwauth: boolean;
  disable_root: boolean;
  write_files: { path: string; content: string; permissions: string; owner?: string }[];
  /** Omitted when empty (the schema wants at least one entry). */
  runcmd?: (string | string[])[];
}

const BASE_PACKAGES = ["ca-certificates", "curl", "git", "rsync", "python3", "python3-venv", "sudo"];

/** Packages per role, on top of the base set. */
export const ROLE_PACKAGES: Readonly<Record<Role, readonly string[]>> = {
  orchestration: ["fail2ban"],
  "ray-head": ["python3-pip", "build-essential"],
  "ray-worker": ["python3-pip", "build-essential"],
  "swarm-manager": ["docker.io"],
  "swarm-worker": ["docker.io"],
};

export function cloudConfig(hostname: string, roles: readonly Role[]): CloudConfig {
  const packages = [...new Set([...BASE_PACKAGES, ...roles.flatMap((r) => ROLE_PACKAGES[r])])].sort();
  const runcmd: (string | string[])[] = [];
  if (packages.includes("docker.io")) runcmd.push(["systemctl", "enable", "--now", "docker"]);
  if (roles.includes("orchestration")) runcmd.push(["systemctl", "enable", "--now", "fail2ban"]);
  return {
    hostname,
    preserve_hostname: false,
    manage_etc_hosts: true,
    package_update: true,
    package_upgrade: false,
    packages,
    ssh_pwauth: false,
    disable_root: true,
    write_files: [
      {
        path: "/etc/rayswarm/roles",
        content: roles.join("\n") + "\n",
        permissions: "0644",
        owner: "root:root",
      },
    ],
    ...(runcmd.length > 0 ? { runcmd } : {}),
  };
}

/** The user-data document: `#cloud-config` header + YAML. */
export function renderCloudConfig(doc: CloudConfig): string {
  return "#cloud-config\n" + yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });
}
