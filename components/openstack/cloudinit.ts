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
  // fail2ban reads sshd's log from the journal (python3-systemd) and bans with nftables.
  orchestration: ["fail2ban", "python3-systemd", "nftables"],
  "ray-head": ["python3-pip", "build-essential"],
  "ray-worker": ["python3-pip", "build-essential"],
  "swarm-manager": ["docker.io"],
  "swarm-worker": ["docker.io"],
};

/**
 * fail2ban's sshd jail for Debian 12 cloud images. Debian's fail2ban 1.0.2-2 enables the jail
 * with `backend = auto`, which tails /var/log/auth.log; the images have no rsyslog, so the file
 * never exists, fail2ban does not start and `systemctl enable --now fail2ban` fails cloud-init.
 * Read the journal instead (sshd is `ssh.service` on Debian) and ban with nftables (the images
 * have no iptables).
 */
export const FAIL2BAN_SSHD_JAIL = [
  "# rayswarm: sshd jail for Debian 12 cloud images (no rsyslog: read the journal)",
  "[DEFAULT]",
  "banaction = nftables-multiport",
  "banaction_allports = nftables-allports",
  "",
  "[sshd]",
  "enabled = true",
  "backend = systemd",
  "journalmatch = _SYSTEMD_UNIT=ssh.service + _COMM=sshd",
  "",
].join("\n");
export const FAIL2BAN_SSHD_JAIL_PATH = "/etc/fail2ban/jail.d/rayswarm-sshd.local";

/**
 * The bastion is every connection's jump host, and `pulumi up`/`destroy` open many SSH sessions
 * at once (one per remote command): sshd's default MaxStartups 10:30:100 drops handshakes beyond
 * 10, which the command provider reports as EOF (found by the e2e's destroy). The same setting
 * as images/node's. Written before sshd is restarted by the package install / first boot.
 */
export const BASTION_SSHD = ["# rayswarm: room for a whole fleet's sessions at once", "MaxStartups 200:30:400", "MaxSessions 100", ""].join(
  "\n",
);
export const BASTION_SSHD_PATH = "/etc/ssh/sshd_config.d/rayswarm-bastion.conf";

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
      // Written before the packages are installed, so fail2ban starts with it the first time.
      ...(roles.includes("orchestration")
        ? [
            { path: FAIL2BAN_SSHD_JAIL_PATH, content: FAIL2BAN_SSHD_JAIL, permissions: "0644", owner: "root:root" },
            { path: BASTION_SSHD_PATH, content: BASTION_SSHD, permissions: "0644", owner: "root:root" },
          ]
        : []),
    ],
    ...(runcmd.length > 0 ? { runcmd } : {}),
  };
}

/** The user-data document: `#cloud-config` header + YAML. */
export function renderCloudConfig(doc: CloudConfig): string {
  return "#cloud-config\n" + yaml.dump(doc, { lineWidth: -1, noRefs: true, sortKeys: false });
}
