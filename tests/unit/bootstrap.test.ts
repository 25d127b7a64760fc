import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { REPO_ROOT } from "../../components/remote";
import { program } from "../../stacks/program";
import { Recorded, RunResult, existingConfig, runProgram, stackConfig, unwrap } from "./support/harness";

const CMD = "command:remote:Command";
const cmds = (run: RunResult, re: RegExp) => run.ofType(CMD).filter((c) => re.test(c.name));
const create = async (r: Recorded) => String((await unwrap(r.props.create as pulumi.Input<string>)).value);

describe.each(["dev", "prod"])("cluster bootstrap on the %s stack", (stack) => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), program);
  });

  test("Ray workers start after the head is up; swarm joins after the first manager created the swarm", () => {
    const head = run.byName("raycluster-head");
    const workers = cmds(run, /^raycluster-worker-/);
    expect(workers.length).toBe(stack === "dev" ? 1 : 3);
    for (const w of workers) expect(run.dependsOnTransitively(w).has(head)).toBe(true);
    const tokens = run.byName("swarm-tokens");
    const init = run.byName("swarm-init");
    expect(run.dependsOnTransitively(tokens).has(init)).toBe(true);
    const joins = cmds(run, /^swarm-join-/);
    expect(joins.length).toBe(stack === "dev" ? 1 : 5); // prod: 2 more managers + 3 workers
    for (const j of joins) expect(run.dependsOnTransitively(j).has(tokens)).toBe(true);
  });

  test("siblings bootstrap in parallel: no worker, join or install waits for a sibling", () => {
    for (const re of [/^raycluster-worker-/, /^swarm-join-/, /^raycluster-install-/, /^swarm-docker-/, /^bundle-/]) {
      const siblings = cmds(run, re);
      expect(siblings.length).toBeGreaterThanOrEqual(stack === "dev" ? 1 : 3);
      for (const a of siblings) {
        const deps = run.dependsOnTransitively(a);
        for (const b of siblings.filter((x) => x !== a))
          expect({ a: a.name, b: b.name, chained: deps.has(b) }).toEqual({ a: a.name, b: b.name, chained: false });
      }
    }
  });

  test("join tokens are secrets, and so is every command input that carries one", async () => {
    const swarm = run.resources.find((r) => r.type === "rayswarm:swarm:SwarmCluster")!.resource as unknown as {
      workerToken: pulumi.Output<string>;
      managerToken: pulumi.Output<string>;
    };
    expect(await pulumi.isSecret(swarm.workerToken)).toBe(true);
    expect(await pulumi.isSecret(swarm.managerToken)).toBe(true);
    for (const j of cmds(run, /^swarm-join-/)) {
      const stdin = await unwrap<string>(j.props.stdin as pulumi.Input<string>);
      expect(stdin.secret).toBe(true);
      expect(stdin.value).toMatch(/^SWMTKN-1-mock(worker|manager)\n$/);
      // the token never reaches the command line
      expect(await create(j)).not.toContain("SWMTKN");
    }
    // managers join with the manager token, workers with the worker token
    for (const j of cmds(run, /^swarm-join-/)) {
      const stdin = String((await unwrap(j.props.stdin as pulumi.Input<string>)).value);
      expect(stdin.includes("mockmanager")).toBe(j.name.includes("swarm-manager"));
    }
    // no command line anywhere carries a token or a private key
    for (const c of run.ofType(CMD)) {
      const line = await create(c);
      expect(line).not.toMatch(/SWMTKN|PRIVATE KEY/);
    }
  });

  test("undo steps exist: nodes leave the swarm and are removed; Ray stops on every node", async () => {
    const all = run.ofType(CMD);
    const deletes = await Promise.all(
      all.map(async (c) => [c.name, String((await unwrap(c.props.delete as pulumi.Input<string>)).value ?? "")] as const),
    );
    const withDelete = (re: RegExp) => deletes.filter(([n, d]) => re.test(n) && d.length > 0);
    expect(withDelete(/^swarm-leave-/).every(([, d]) => d.includes("swarm-leave.sh"))).toBe(true);
    expect(withDelete(/^swarm-slot-/).every(([, d]) => d.includes("swarm-node-rm.sh"))).toBe(true);
    expect(withDelete(/^raycluster-stop-/).length).toBe(stack === "dev" ? 2 : 4);
    // script-bearing steps carry no destructive delete (a script edit must not undo a node)
    for (const [n, d] of deletes)
      if (/^(swarm-join-|swarm-init$|raycluster-head$|raycluster-worker-|raycluster-install-)/.test(n))
        expect({ n, d }).toEqual({ n, d: "" });
  });

  test("the initial tuning job runs on the head after all Ray nodes are up", () => {
    const job = run.byName("raycluster-initial-tuning");
    expect(run.dependsOnTransitively(job).has(run.byName("raycluster-wait"))).toBe(true);
  });
});

describe("the existing environment", () => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram("e2e", existingConfig(), program);
  });

  test("makes one Host per inventory entry; everything but the bastion is reached through it", async () => {
    const ready = run.ofType(CMD).filter((c) => c.name.endsWith("-ready"));
    expect(ready.map((r) => r.name).sort()).toEqual(["head-ready", "mgr0-ready", "orch-ready", "rw0-ready", "sw0-ready"]);
    for (const r of ready) {
      const conn = await unwrap<Record<string, unknown>>(r.props.connection as never);
      expect(conn.secret).toBe(true);
      if (r.name === "orch-ready") expect(conn.value).toMatchObject({ host: "127.0.0.1", port: 2201, user: "root" });
      else expect((conn.value?.proxy as Record<string, unknown>) ?? {}).toMatchObject({ host: "127.0.0.1", port: 2201 });
    }
  });

  test("ssh commands go through the bastion", async () => {
    const ssh = (await unwrap<Record<string, string>>(run.outputs.sshCommands as never)).value!;
    expect(ssh.orch).toBe("ssh -p 2201 root@127.0.0.1");
    expect(ssh.head).toBe("ssh -J root@127.0.0.1:2201 root@172.30.0.11");
  });

  test("the bastion gets no bundle; every other machine does", () => {
    expect(
      cmds(run, /^bundle-/)
        .map((c) => c.name.replace(/^bundle-/, ""))
        .sort(),
    ).toEqual(["head", "mgr0", "rw0", "sw0"]);
  });
});

describe("editing a script changes the trigger of exactly the steps that run it", () => {
  function copyTree(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-src-"));
    for (const sub of ["scripts/host", "scripts/promotion", "workloads/tuning"]) {
      fs.cpSync(path.join(REPO_ROOT, sub), path.join(dir, sub), {
        recursive: true,
        filter: (p) => !/\.venv|__pycache__|\.pytest_cache/.test(p),
      });
    }
    // The bundle is what git tracks: make the copy a checkout of its own.
    execFileSync("git", ["init", "-q", dir]);
    execFileSync("git", ["-C", dir, "add", "-A"]);
    return dir;
  }
  const runWith = (root: string) => runProgram("e2e", existingConfig(), () => program({ sourceRoot: root }));
  const triggers = async (run: RunResult) =>
    Object.fromEntries(
      await Promise.all(
        run.ofType(CMD).map(async (c) => [c.name, JSON.stringify((await unwrap(c.props.triggers as never)).value)] as const),
      ),
    );
  const creates = async (run: RunResult) =>
    Object.fromEntries(await Promise.all(run.ofType(CMD).map(async (c) => [c.name, await create(c)] as const)));

  test("swarm-join.sh edited: joins and bundles re-run, nothing else; no command line changes", async () => {
    const root = copyTree();
    try {
      const before = await runWith(root);
      const [t0, c0] = [await triggers(before), await creates(before)];
      fs.appendFileSync(path.join(root, "scripts/host/swarm-join.sh"), "\n# an edit\n");
      const after = await runWith(root);
      const [t1, c1] = [await triggers(after), await creates(after)];
      const changed = Object.keys(t0)
        .filter((k) => t0[k] !== t1[k])
        .sort();
      expect(changed).toEqual(["bundle-head", "bundle-mgr0", "bundle-rw0", "bundle-sw0", "swarm-join-sw0"]);
      // The create commands stay the same (a change there would replace the resource).
      for (const k of Object.keys(c0)) if (!k.startsWith("bundle-")) expect({ k, same: c0[k] === c1[k] }).toEqual({ k, same: true });
      // Lifecycle steps (whose delete undoes a node) never change.
      for (const k of Object.keys(t0).filter((n) => /-(leave|slot|stop)-/.test(n))) expect(t1[k]).toBe(t0[k]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
