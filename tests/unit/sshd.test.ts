// The bastion (every connection's jump host) accepts a whole fleet's SSH handshakes at once:
// with sshd's default MaxStartups (10:30:100) handshakes past 10 are dropped and the provider
// retries its dial (tests/integration/ssh-stdin.test.ts). The e2e destroy's `EOF: running …` was
// not this but the resource's stdin (tests/unit/remote-stdin.test.ts).
import * as fs from "fs";
import * as path from "path";
import { BASTION_SSHD, BASTION_SSHD_PATH, cloudConfig } from "../../components/openstack/cloudinit";
import { REPO_ROOT } from "../../components/remote";

const setting = (text: string, key: string) => new RegExp(`^${key}\\s+(\\S+)$`, "m").exec(text)?.[1];

test("OpenStack bastions get the raised MaxStartups/MaxSessions from cloud-init; other machines keep sshd's defaults", () => {
  const bastion = cloudConfig("dev-orchestration", ["orchestration"]).write_files.find((f) => f.path === BASTION_SSHD_PATH);
  expect(bastion?.content).toBe(BASTION_SSHD);
  expect(setting(BASTION_SSHD, "MaxStartups")).toBe("200:30:400");
  expect(Number(setting(BASTION_SSHD, "MaxSessions"))).toBeGreaterThanOrEqual(100);
  for (const role of ["ray-head", "ray-worker", "swarm-manager", "swarm-worker"] as const)
    expect(cloudConfig(`dev-${role}`, [role]).write_files.map((f) => f.path)).not.toContain(BASTION_SSHD_PATH);
});

test("the node image (local machines) carries the same settings", () => {
  const conf = fs.readFileSync(path.join(REPO_ROOT, "images/node/rootfs/etc/ssh/sshd_config.d/rayswarm.conf"), "utf8");
  expect(setting(conf, "MaxStartups")).toBe(setting(BASTION_SSHD, "MaxStartups"));
  expect(setting(conf, "MaxSessions")).toBe(setting(BASTION_SSHD, "MaxSessions"));
  expect(setting(conf, "PasswordAuthentication")).toBe("no");
});
