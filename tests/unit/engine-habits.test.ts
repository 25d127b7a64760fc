/**
 * What the real engine does with this program, checked under mocks: scale-out only adds,
 * replaced machines re-run their bootstrap, host keys are checked, no previous output goes back
 * into a command's environment, triggers come from content.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { readBundle, hashOf, REPO_ROOT } from "../../components/remote";
import { program } from "../../stacks/program";
import { RunResult, localConfig, runProgram, stackConfig, unwrap, ADMIN_CIDR } from "./support/harness";

const CMD = "command:remote:Command";
/** A secret input arrives as the engine's envelope { <signature>: <secret>, value }: open it. */
const opened = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === "object" && "value" in v && Object.keys(v).length === 2
    ? (v as { value: Record<string, unknown> }).value
    : (v as Record<string, unknown>);
/** Resolved inputs per resource, without the properties the engine does not diff (ignoreChanges). */
const inputsOf = (run: RunResult) =>
  Object.fromEntries(
    run.resources
      .filter((r) => r.inputs)
      .map((r) => [`${r.type}::${r.name}`, Object.fromEntries(Object.entries(r.inputs!).filter(([k]) => !r.ignoreChanges.includes(k)))]),
  );

describe("scale-out only adds resources", () => {
  const scaled = { "rayswarm:rayWorkers": "2", "rayswarm:swarmWorkers": "2" };
  test.each([
    ["local", (o: Record<string, string>) => localConfig(o)],
    ["dev", (o: Record<string, string>) => ({ ...stackConfig("dev"), "rayswarm:adminCidr": ADMIN_CIDR, ...o })],
  ])("%s: rayWorkers 1->2 and swarmWorkers 1->2 keep every existing resource's inputs", async (stack, config) => {
    const base = config({});
    const before = inputsOf(await runProgram(stack, base, program));
    const after = inputsOf(await runProgram(stack, { ...base, ...scaled }, program));
    const changed = Object.keys(before).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    expect(changed).toEqual([]);
    const added = Object.keys(after).filter((k) => !(k in before));
    // a Ray worker and a Swarm worker: their machines and the steps that configure them
    expect(added.some((k) => k.endsWith("::ray-worker-1") || k.includes("::ray-worker-1-"))).toBe(true);
    expect(added.some((k) => k.includes("swarm-join-swarm-worker-1"))).toBe(true);
    expect(added.some((k) => k.includes("promotion-target-swarm-worker-1"))).toBe(true);
    // monitoring: the new machines' exporters and their file_sd target files (Prometheus's config stays)
    for (const m of ["ray-worker-1", "swarm-worker-1"]) {
      expect(added).toContain(`command:remote:Command::monitoring-node-exporter-${m}`);
      expect(added).toContain(`command:remote:Command::monitoring-target-${m}`);
    }
  });

  test("every role keeps its address block: the first Swarm manager's address does not move when Ray workers are added", async () => {
    const addrs = async (o: Record<string, string>) =>
      (await unwrap((await runProgram("local", localConfig(o), program)).outputs.privateAddresses as never)).value as unknown as Record<
        string,
        string[]
      >;
    const one = await addrs({});
    const many = await addrs({ "rayswarm:rayWorkers": "5", "rayswarm:swarmWorkers": "3" });
    expect(one["swarm-manager"]).toEqual(["10.77.0.12"]);
    expect(many["swarm-manager"]).toEqual(one["swarm-manager"]);
    expect(many["ray-worker"].slice(0, 1)).toEqual(one["ray-worker"]);
    expect(many["swarm-worker"].slice(0, 1)).toEqual(one["swarm-worker"]);
    expect(many["ray-worker"]).toEqual(["10.77.0.20", "10.77.0.21", "10.77.0.22", "10.77.0.23", "10.77.0.24"]);
    expect(many["swarm-worker"]).toEqual(["10.77.0.137", "10.77.0.138", "10.77.0.139"]);
  });
});

describe("the local stack under the real engine's rules", () => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram("local", localConfig(), program);
  });

  test("no remote command gets its previous output back in its environment", () => {
    const cmds = run.ofType(CMD);
    expect(cmds.length).toBeGreaterThan(40);
    for (const c of cmds) expect({ name: c.name, v: c.inputs?.addPreviousOutputInEnv }).toEqual({ name: c.name, v: false });
  });

  test("every connection and its jump host check a host key that the program generated and put in the container", async () => {
    const containers = run.ofType("docker:index/container:Container");
    const keyOf: Record<string, string> = {};
    for (const c of containers) {
      const uploads = opened(c.inputs?.uploads) as unknown as { file: string; content: string; permissions: string }[];
      expect(uploads).toHaveLength(1);
      expect(uploads[0]).toMatchObject({ file: "/etc/ssh/ssh_host_ed25519_key", permissions: "0600" });
      expect(uploads[0].content).toMatch(/OPENSSH PRIVATE KEY/);
      const props = c.props.uploads as unknown as { content: unknown }[];
      expect((await unwrap(props[0].content as never)).secret).toBe(true);
      const key = run.byName(`${c.name}-host-key`);
      keyOf[c.name] = String(key.inputs?.algorithm);
    }
    expect(Object.values(keyOf).every((a) => a === "ED25519")).toBe(true);
    for (const c of run.ofType(CMD)) {
      const conn = opened(c.inputs?.connection) as { host: string; hostKey?: string; proxy?: { hostKey?: string } };
      expect({ name: c.name, hostKey: conn.hostKey }).toEqual({ name: c.name, hostKey: expect.stringMatching(/^ssh-ed25519 /) });
      if (conn.host !== "127.0.0.1")
        expect({ name: c.name, proxy: opened(conn.proxy)?.hostKey }).toEqual({
          name: c.name,
          proxy: expect.stringMatching(/^ssh-ed25519 /),
        });
    }
    const known = String((await unwrap(run.outputs.sshKnownHosts as never)).value);
    expect(known.split("\n").filter((l) => l)).toHaveLength(5);
    expect(known).toMatch(/^\[127\.0\.0\.1\]:2222 ssh-ed25519 /m);
    expect(known).toMatch(/^10\.77\.0\.11 ssh-ed25519 /m);
  });

  test("a step that configures a machine carries the machine's container id in its triggers", async () => {
    const perHost: [RegExp, string][] = [
      [/^bundle-ray-head$/, "ray-head-id"],
      [/^raycluster-install-ray-worker-0$/, "ray-worker-0-id"],
      [/^raycluster-worker-ray-worker-0$/, "ray-worker-0-id"],
      [/^swarm-docker-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^swarm-join-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^serving-models-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^promotion-production-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^promotion-target-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^serving-deploy$/, "swarm-manager-0-id"],
      [/^monitoring-node-exporter-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^monitoring-model-metric-swarm-worker-0$/, "swarm-worker-0-id"],
      [/^monitoring-target-swarm-worker-0$/, "orchestration-id"],
      [/^monitoring-prometheus$/, "orchestration-id"],
      [/^monitoring-stack-deploy$/, "swarm-manager-0-id"],
    ];
    for (const [re, id] of perHost) {
      const found = run.ofType(CMD).filter((c) => re.test(c.name));
      expect({ re: String(re), n: found.length }).toEqual({ re: String(re), n: 1 });
      expect(found[0].inputs?.triggers).toContain(id);
    }
    // Undo steps never do: a replaced machine must not replace (and so run) them.
    for (const c of run.ofType(CMD).filter((x) => /-(leave|slot|stop)-|stack-rm/.test(x.name)))
      expect(JSON.stringify(c.inputs?.triggers ?? [])).not.toMatch(/-id"/);
  });

  test("Docker secrets carry only the manager's identity: no script edit replaces them", () => {
    const secrets = run.ofType(CMD).filter((c) => c.name.startsWith("serving-secret-"));
    expect(secrets).toHaveLength(4);
    for (const s of secrets) expect(s.inputs?.triggers).toEqual(["swarm-manager-0-id"]);
  });
});

describe("triggers come from content", () => {
  test("image tarballs are triggered by their content hash: a rebuilt image is copied, loaded and deployed again, nothing else changes", async () => {
    const a = inputsOf(await runProgram("local", localConfig({}, "image v1"), program));
    const b = inputsOf(await runProgram("local", localConfig({}, "image v2"), program));
    const changed = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    // 2 production machines x 4 tarballs x (copy + load); the copies' source paths differ too;
    // and both stack files, which name the images by ID: the new images are deployed
    expect(changed.filter((k) => !/::serving-(image|load)-/.test(k))).toEqual([
      "command:remote:Command::serving-deploy",
      "command:remote:Command::monitoring-stack-deploy",
    ]);
    expect(changed.filter((k) => k.includes("::serving-load-"))).toHaveLength(8);
  });

  test("the bundle is what git tracks: an untracked or ignored file changes no hash; a tracked edit does", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-bundle-"));
    try {
      for (const sub of ["scripts/host", "scripts/promotion", "workloads/tuning"])
        fs.cpSync(path.join(REPO_ROOT, sub), path.join(dir, sub), { recursive: true, filter: (p) => !/\.venv|__pycache__/.test(p) });
      fs.writeFileSync(path.join(dir, ".gitignore"), "*.log\n");
      execFileSync("git", ["init", "-q", dir]);
      execFileSync("git", ["-C", dir, "add", "-A"]);
      const h0 = hashOf(readBundle(dir));
      fs.writeFileSync(path.join(dir, "scripts/host/notes.txt"), "untracked\n");
      fs.writeFileSync(path.join(dir, "scripts/host/run.log"), "ignored\n");
      fs.mkdirSync(path.join(dir, "workloads/tuning/results"), { recursive: true });
      fs.writeFileSync(path.join(dir, "workloads/tuning/results/x.json"), "{}");
      expect(hashOf(readBundle(dir))).toBe(h0);
      // The same tree at another path hashes the same.
      const moved = `${dir}-moved`;
      fs.renameSync(dir, moved);
      expect(hashOf(readBundle(moved))).toBe(h0);
      fs.renameSync(moved, dir);
      fs.appendFileSync(path.join(dir, "scripts/host/ray-worker.sh"), "\n# edit\n");
      expect(hashOf(readBundle(dir))).not.toBe(h0);
      // The mode comes from git's index, not from the file system.
      const files = readBundle(dir);
      expect(files.find((f) => f.path === "promotion/hooks/post-commit")?.mode).toBe("0755");
      expect(files.find((f) => f.path === "tuning/requirements.txt")?.mode).toBe("0644");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("outside a git checkout the bundle cannot be made, and the error says why", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-nogit-"));
    try {
      fs.mkdirSync(path.join(dir, "scripts/host"), { recursive: true });
      fs.writeFileSync(path.join(dir, "scripts/host/common.sh"), "#!/bin/bash\n");
      expect(() => readBundle(dir)).toThrow(/cannot list the files git tracks in .*the bundle is made from a git checkout/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("existing machines: a hostKey per inventory entry", () => {
  const KEY = ["-----BEGIN", "OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----"].join(" ");
  const hostKey = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${"k".repeat(40)}${n}`;
  const inventory = [
    { name: "orch", address: "203.0.113.10", roles: ["orchestration"], user: "root", hostKey: hostKey(0) },
    { name: "head", address: "172.30.0.11", roles: ["ray-head"], user: "root", hostKey: hostKey(1) },
    { name: "rw0", address: "172.30.0.12", roles: ["ray-worker"], user: "root", hostKey: hostKey(2) },
    { name: "mgr0", address: "172.30.0.13", roles: ["swarm-manager"], user: "root", hostKey: hostKey(3) },
    // no hostKey: not checked (the program warns), the jump to it still checks the bastion's
    { name: "sw0", address: "172.30.0.14", roles: ["swarm-worker"], user: "root" },
  ];

  test("every connection checks its machine's listed key, and every jump the bastion's", async () => {
    const config = { "rayswarm:environment": "existing", "rayswarm:sshPrivateKey": KEY, "rayswarm:hosts": JSON.stringify(inventory) };
    const run = await runProgram("existing", config, program);
    const keyAt = new Map(inventory.map((h) => [h.address, h.hostKey]));
    const cmds = run.ofType(CMD).concat(run.ofType("command:remote:CopyToRemote"));
    expect(cmds.length).toBeGreaterThan(20);
    const seen = new Set<string>();
    for (const c of cmds) {
      const conn = (await unwrap<Record<string, unknown>>(c.props.connection as never)).value!;
      const host = String(conn.host);
      expect({ step: c.name, known: keyAt.has(host) }).toEqual({ step: c.name, known: true });
      seen.add(host);
      expect({ step: c.name, hostKey: conn.hostKey }).toEqual({ step: c.name, hostKey: keyAt.get(host) });
      const proxy = conn.proxy as Record<string, unknown> | undefined;
      if (host === "203.0.113.10") expect(proxy).toBeUndefined();
      else
        expect({ step: c.name, proxy: proxy?.host, key: proxy?.hostKey }).toEqual({ step: c.name, proxy: "203.0.113.10", key: hostKey(0) });
    }
    expect(seen.size).toBe(inventory.length);
  });
});
