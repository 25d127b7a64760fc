/**
 * cloud-init user data against the real tools (Debian's `cloud-init schema`, Debian 12's fail2ban):
 * an integration check, because it needs those packages (.ci/run installs them; a missing tool
 * fails the test with the command that installs it, never a silent pass).
 */
import { execFileSync, spawn, spawnSync, ChildProcess } from "child_process";
import * as net from "net";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import {
  cloudConfig,
  renderCloudConfig,
  ROLE_PACKAGES,
  FAIL2BAN_SSHD_JAIL_PATH,
  SSHD_HOST_KEY,
  SSHD_HOST_KEY_PATH,
} from "../../components/openstack/cloudinit";
import { ROLES } from "../../stacks/schema";
import { program } from "../../stacks/program";
import { runProgram, stackConfig, unwrap } from "../unit/support/harness";

/** Runs Debian's `cloud-init schema` on a document; throws with its output when invalid. */
function cloudInitSchema(doc: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cloudinit-"));
  const file = path.join(dir, "user-data");
  fs.writeFileSync(file, doc);
  try {
    return execFileSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: string };
    if (err.code === "ENOENT") throw new Error("cloud-init is not installed: apt-get install -y cloud-init (.ci/run does it)");
    throw new Error(`cloud-init schema rejected the document:\n${err.stdout}\n${err.stderr}\n---\n${doc}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Debian 12's own fail2ban (and python3-systemd), unpacked from the bookworm packages into a
 * cache folder: `apt-get download` + `dpkg-deb -x`, nothing is installed or started.
 */
function debianFail2ban(): string {
  const cache = path.join(process.env.RAYSWARM_CACHE ?? "/var/cache/rayswarm", "fail2ban-bookworm");
  const root = path.join(cache, "root");
  if (!fs.existsSync(path.join(root, "usr/bin/fail2ban-client"))) {
    fs.mkdirSync(cache, { recursive: true });
    try {
      execFileSync("apt-get", ["download", "fail2ban", "python3-systemd"], { cwd: cache, stdio: "pipe" });
      for (const deb of fs.readdirSync(cache).filter((f) => f.endsWith(".deb")))
        execFileSync("dpkg-deb", ["-x", path.join(cache, deb), root], { stdio: "pipe" });
    } catch (e) {
      throw new Error(`could not fetch Debian's fail2ban (apt-get download fail2ban python3-systemd in ${cache}): ${String(e)}`);
    }
  }
  return root;
}

/**
 * fail2ban's own configuration test (`fail2ban-client --test`) on a copy of Debian 12's
 * /etc/fail2ban plus the files a user-data document writes under /etc/fail2ban. sshd's log
 * file is pointed at a path that does not exist (a Debian 12 cloud image has no rsyslog, so
 * no /var/log/auth.log), whatever the machine running the test has.
 */
function fail2banTest(userData: string): { ok: boolean; output: string } {
  const root = debianFail2ban();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fail2ban-"));
  try {
    fs.cpSync(path.join(root, "etc/fail2ban"), path.join(dir, "fail2ban"), { recursive: true });
    fs.writeFileSync(
      path.join(dir, "fail2ban/paths-overrides.local"),
      `[DEFAULT]\nsyslog_authpriv = ${path.join(dir, "no-rsyslog/auth.log")}\n`,
    );
    const doc = yaml.load(userData) as { write_files: { path: string; content: string }[] };
    for (const f of doc.write_files.filter((w) => w.path.startsWith("/etc/fail2ban/")))
      fs.writeFileSync(path.join(dir, f.path.replace(/^\/etc\//, "")), f.content);
    const env = { ...process.env, PYTHONPATH: path.join(root, "usr/lib/python3/dist-packages") };
    try {
      const output = execFileSync(
        "/usr/bin/python3",
        [path.join(root, "usr/bin/fail2ban-client"), "-c", path.join(dir, "fail2ban"), "--test"],
        {
          env,
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
          timeout: 60000,
        },
      );
      return { ok: true, output };
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string };
      return { ok: false, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe("fail2ban on the bastion (Debian 12 cloud images have no rsyslog)", () => {
  const bastion = renderCloudConfig(cloudConfig("dev-orchestration", ["orchestration"]));

  test("the sshd jail reads the journal (backend = systemd) and python3-systemd is installed", () => {
    const doc = yaml.load(bastion) as { packages: string[]; write_files: { path: string; content: string }[] };
    expect(doc.packages).toEqual(expect.arrayContaining(["fail2ban", "python3-systemd"]));
    const jail = doc.write_files.find((f) => f.path === FAIL2BAN_SSHD_JAIL_PATH);
    expect(jail?.content).toMatch(/^\[sshd\]$/m);
    expect(jail?.content).toMatch(/^backend = systemd$/m);
    expect(jail?.content).toMatch(/^enabled = true$/m);
    // only the bastion runs fail2ban
    for (const role of ROLES.filter((r) => r !== "orchestration"))
      expect(renderCloudConfig(cloudConfig("x", [role]))).not.toContain("fail2ban");
  });

  test("Debian 12's fail2ban accepts the bastion's configuration (and rejects its own default without auth.log)", () => {
    const ours = fail2banTest(bastion);
    expect(ours).toEqual({ ok: true, output: expect.stringContaining("OK: configuration test is successful") });
    // The check is real: Debian's default jail (backend = auto: /var/log/auth.log) fails here.
    const stock = fail2banTest("#cloud-config\nwrite_files: []\n");
    expect(stock.ok).toBe(false);
    expect(stock.output).toMatch(/Have not found any log file for sshd jail/);
  }, 120000);
});

describe("cloud-init user data", () => {
  test.each(ROLES)("the %s document passes `cloud-init schema`", (role) => {
    const doc = renderCloudConfig(cloudConfig(`dev-${role}`, [role]));
    expect(doc.startsWith("#cloud-config\n")).toBe(true);
    expect(cloudInitSchema(doc)).toMatch(/Valid cloud-config/);
  });

  test("every user-data document the dev and prod stacks send passes `cloud-init schema` and installs its role's packages", async () => {
    for (const stack of ["dev", "prod"]) {
      const run = await runProgram(stack, stackConfig(stack), program);
      const instances = run.ofType("openstack:compute/instance:Instance");
      expect(instances.length).toBeGreaterThan(4);
      for (const i of instances) {
        // the user data holds the machine's host key: a secret
        const sent = await unwrap(i.props.userData as never);
        expect({ vm: i.name, secret: sent.secret }).toEqual({ vm: i.name, secret: true });
        const userData = String(sent.value);
        expect(cloudInitSchema(userData)).toMatch(/Valid cloud-config/);
        const parsed = yaml.load(userData) as {
          hostname: string;
          packages: string[];
          write_files: { content: string }[];
          ssh_keys: Record<string, string>;
        };
        expect(Object.keys(parsed.ssh_keys).sort()).toEqual(["ed25519_private", "ed25519_public"]);
        const role = (i.inputs?.metadata as Record<string, string>)["rayswarm-roles"] as keyof typeof ROLE_PACKAGES;
        expect(parsed.hostname).toBe(i.name.replace(/-vm$/, "") === i.name ? i.name : i.inputs?.name);
        for (const p of ROLE_PACKAGES[role]) expect(parsed.packages).toContain(p);
        for (const p of ["git", "python3-venv"]) expect(parsed.packages).toContain(p);
        expect(parsed.write_files[0].content).toBe(`${role}\n`);
      }
    }
  });

  test("the schema check is real: an invalid document is rejected", () => {
    expect(() => cloudInitSchema("#cloud-config\npackage_update: maybe\nruncmd: 5\n")).toThrow(/rejected/);
  });

  test("Swarm machines get Docker, Ray machines do not need it, and no document carries a secret", () => {
    const mgr = cloudConfig("m", ["swarm-manager"]);
    expect(mgr.packages).toContain("docker.io");
    expect(mgr.runcmd).toContainEqual(["systemctl", "enable", "--now", "docker"]);
    expect(cloudConfig("h", ["ray-head"]).packages).not.toContain("docker.io");
    for (const role of ROLES) expect(renderCloudConfig(cloudConfig("x", [role]))).not.toMatch(/PRIVATE KEY|password|SWMTKN/i);
  });
});

/** A real ed25519 key pair from ssh-keygen, as tls.PrivateKey gives it (OpenSSH format, no comment). */
function realHostKey(dir: string): { privateKey: string; publicKey: string } {
  const file = path.join(dir, "generated");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file]);
  return { privateKey: fs.readFileSync(file, "utf8"), publicKey: fs.readFileSync(`${file}.pub`, "utf8") };
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });

describe("the machine's SSH host key in the user data", () => {
  let dir: string;
  let sshd: ChildProcess | undefined;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "hostkey-"));
  });
  afterAll(() => {
    if (sshd?.pid) process.kill(sshd.pid, "SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each(ROLES)("the %s document with a real host key passes `cloud-init schema` and installs only that key", (role) => {
    const key = realHostKey(fs.mkdtempSync(path.join(dir, "k-")));
    const doc = renderCloudConfig(cloudConfig(`dev-${role}`, [role], key));
    expect(cloudInitSchema(doc)).toMatch(/Valid cloud-config/);
    const parsed = yaml.load(doc) as Record<string, unknown> & { write_files: { path: string; content: string }[] };
    expect(parsed.ssh_deletekeys).toBe(true);
    expect(parsed.ssh_genkeytypes).toEqual(["ed25519"]);
    expect(parsed.ssh_keys).toEqual({ ed25519_private: key.privateKey, ed25519_public: key.publicKey.trim() });
    expect(parsed.write_files.find((f) => f.path === SSHD_HOST_KEY_PATH)?.content).toBe(SSHD_HOST_KEY);
  });

  test("sshd serving the key the document installs is accepted by ssh with the program's known_hosts line, and a wrong line is refused", async () => {
    const key = realHostKey(dir);
    const doc = yaml.load(renderCloudConfig(cloudConfig("dev-orchestration", ["orchestration"], key))) as {
      ssh_keys: { ed25519_private: string; ed25519_public: string };
      write_files: { path: string; content: string }[];
    };
    // What cloud-init's ssh module writes: the private key 0600 (the public one beside it).
    const hostKeyFile = path.join(dir, "ssh_host_ed25519_key");
    fs.writeFileSync(hostKeyFile, doc.ssh_keys.ed25519_private, { mode: 0o600 });
    // the key survives YAML: its public half is the document's public key
    expect(execFileSync("ssh-keygen", ["-y", "-f", hostKeyFile], { encoding: "utf8" }).trim()).toBe(doc.ssh_keys.ed25519_public);
    // sshd with the document's drop-in (its HostKey pointed at the file written here)
    const dropIn = doc.write_files.find((f) => f.path === SSHD_HOST_KEY_PATH)!.content;
    const port = await freePort();
    const cfg = path.join(dir, "sshd_config");
    fs.writeFileSync(
      cfg,
      [
        dropIn.replace("/etc/ssh/ssh_host_ed25519_key", hostKeyFile),
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `PidFile ${path.join(dir, "sshd.pid")}`,
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AllowUsers nobody-rayswarm",
        "",
      ].join("\n"),
    );
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
    let scan = "";
    for (let i = 0; i < 50 && !scan.includes("ssh-ed25519"); i++) {
      scan = spawnSync("ssh-keyscan", ["-p", String(port), "127.0.0.1"], { encoding: "utf8" }).stdout ?? "";
      if (!scan.includes("ssh-ed25519")) await new Promise((r) => setTimeout(r, 100));
    }
    // sshd offers the ed25519 key of the document and no other type
    expect(scan.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([`[127.0.0.1]:${port} ${doc.ssh_keys.ed25519_public}`]);

    const sshWith = (knownHost: string) => {
      const kh = path.join(dir, "known_hosts");
      fs.writeFileSync(kh, `${knownHost}\n`);
      const r = spawnSync(
        "ssh",
        [
          "-F",
          "/dev/null",
          "-o",
          "BatchMode=yes",
          "-o",
          "StrictHostKeyChecking=yes",
          "-o",
          `UserKnownHostsFile=${kh}`,
          "-p",
          String(port),
        ].concat(["-i", path.join(dir, "generated"), "nobody-rayswarm@127.0.0.1", "true"]),
        { encoding: "utf8", timeout: 30000 },
      );
      return r.stderr;
    };
    // the program's line (address + public key): the host key is verified, then the login is refused (no such user)
    const ok = sshWith(`[127.0.0.1]:${port} ${doc.ssh_keys.ed25519_public}`);
    expect(ok).not.toMatch(/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/);
    expect(ok).toMatch(/Permission denied/);
    // the check is real: another key for the same address is refused before any login
    const other = realHostKey(fs.mkdtempSync(path.join(dir, "other-")));
    expect(sshWith(`[127.0.0.1]:${port} ${other.publicKey.trim()}`)).toMatch(/Host key verification failed/);
  }, 60000);
});
