/**
 * How a node container (images/node) must run to behave like a VM here: systemd as PID 1 (the
 * cgroup tree, tmpfs /run, /run/lock and /tmp) and its own Docker engine (every capability but
 * SYS_RESOURCE, no seccomp/AppArmor confinement, unmasked /proc and /sys; `--privileged` fails on
 * this machine: ../shared/ARCHITECTURE.md). One table, used by the local environment's
 * docker.Container (components/local/environment.ts) and by the integration tests' `docker run`
 * (tests/integration/support/nodes.ts), so the two cannot drift. A volume for /var/lib/docker
 * is added per node by each.
 */
export const NODE_CONTAINER = {
  capabilities: { adds: ["ALL"], drops: ["SYS_RESOURCE"] },
  securityOpts: ["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"],
  cgroupnsMode: "host",
  /** Bind-mounted read-write from the host. */
  cgroupMount: "/sys/fs/cgroup",
  /** tmpfs mounts and their options ("" = defaults). */
  tmpfs: { "/run": "", "/run/lock": "", "/tmp": "exec,mode=1777" } as Readonly<Record<string, string>>,
  /** /dev/shm in MiB (Ray's object store uses it). */
  shmSizeMb: 1024,
} as const;

/** The table as `docker run` flags (without name, network, volumes of its own and image). */
export function nodeRunFlags(): string[] {
  const c = NODE_CONTAINER;
  return [
    ...c.capabilities.adds.flatMap((cap) => ["--cap-add", cap]),
    ...c.capabilities.drops.flatMap((cap) => ["--cap-drop", cap]),
    ...c.securityOpts.flatMap((o) => ["--security-opt", o]),
    "--cgroupns",
    c.cgroupnsMode,
    "-v",
    `${c.cgroupMount}:${c.cgroupMount}:rw`,
    ...Object.entries(c.tmpfs).flatMap(([dir, o]) => ["--tmpfs", o ? `${dir}:${o}` : dir]),
    "--shm-size",
    `${c.shmSizeMb}m`,
  ];
}
