/**
 * The model-promotion git hooks, for real: local bare repos in temp folders, the real gate
 * (python -m rayswarm_tuning.gate in a venv made from requirements-gate.txt), the real
 * serving fixtures (v1 worse, v2 better) and variants derived from them.
 *
 * Most tests run the production side as the current user (install-hooks.sh on a temp bare
 * repo + model root). The last block runs setup-production.sh for real as root: it creates
 * a throwaway system user (not `git`, to leave the machine's users alone), and, when
 * /usr/sbin/sshd exists, pushes through a private sshd on 127.0.0.1 with the deploy key;
 * the user, its home and the sshd are removed afterwards.
 */
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { ChildProcess, spawn } from "child_process";
import {
  Card,
  EVAL_SET,
  FIXTURES,
  SCRIPTS,
  TUNING_SRC,
  deriveModel,
  development,
  gatePython,
  gitLog,
  ok,
  production,
  promote,
  readCard,
  rollback,
  run,
  runAsync,
  sshKey,
  tmpDir,
  versionId,
} from "./support/promotion/helpers";

const V1 = path.join(FIXTURES, "v1");
const V2 = path.join(FIXTURES, "v2");

let py: string;
let base: string;
let key: string;
let v1: Card;
let v2: Card;
let n = 0;

/** A fresh production side (K versions) + dev repo with v1 then v2 accepted. */
function freshPair(name: string, keep: number) {
  const prod = production(base, name, keep, py);
  const dev = development(base, `${name}-dev`, [prod.repo], key);
  expect(promote(dev, V1).code).toBe(0);
  expect(promote(dev, V2).code).toBe(0);
  expect(prod.current()).toBe(v2.version);
  return { prod, dev };
}

/** A model better than v2 by `delta`, with a new version id. */
function better(delta: number): { dir: string; version: string } {
  n += 1;
  const version = versionId(n);
  const dir = deriveModel(V2, path.join(base, "models", `better-${n}`), { version, delta });
  return { dir, version };
}

function assertNoPartialState(root: string): void {
  const leftovers = fs.readdirSync(root).filter((f) => f !== "current" && f !== "versions" && f !== "history.jsonl");
  expect(leftovers).toEqual([]);
  for (const v of fs.readdirSync(path.join(root, "versions"))) {
    expect(v.startsWith(".")).toBe(false);
    expect(fs.readdirSync(path.join(root, "versions", v)).sort()).toEqual(["model.json", "model.onnx"]);
  }
  const card = JSON.parse(fs.readFileSync(path.join(root, "current", "model.json"), "utf8"));
  expect(path.basename(fs.readlinkSync(path.join(root, "current")))).toBe(card.version);
}

beforeAll(() => {
  const t0 = Date.now();
  py = gatePython();
  console.log(`gate python ${py} ready in ${Date.now() - t0} ms`);
  base = tmpDir("promotion-hooks-");
  fs.chmodSync(base, 0o755); // the throwaway production user below must traverse it
  key = sshKey(base);
  v1 = readCard(V1);
  v2 = readCard(V2);
});

afterAll(() => {
  if (base && !process.env.PROMOTION_KEEP_TMP) fs.rmSync(base, { recursive: true, force: true });
});

describe("promotion hooks with the real gate (local bare repos)", () => {
  test("scripts are shellcheck-clean", () => {
    const which = run("bash", ["-c", "command -v shellcheck"]);
    if (which.code !== 0) {
      console.warn("shellcheck not installed: skipped (apt-get install -y shellcheck)");
      return;
    }
    const files = ["*.sh", "lib/*.sh", "hooks/*"].map((g) => `scripts/promotion/${g}`).join(" ");
    const r = run("bash", ["-c", `cd ${JSON.stringify(path.resolve(SCRIPTS, "../.."))} && shellcheck -x ${files}`]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("a first model, then a better one: accepted and `current` switches", () => {
    const prod = production(base, "basic", 3, py);
    const dev = development(base, "basic-dev", [prod.repo], key);
    const r1 = promote(dev, V1);
    expect(r1.code).toBe(0);
    expect(prod.current()).toBe(v1.version);
    const r2 = promote(dev, V2);
    console.log(`promote (better model) took ${r2.ms} ms`);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toContain(`accepted promote ${v2.version}`);
    expect(r2.stderr).toMatch(/now serves \S+ \(previous: /);
    expect(r2.stdout).toContain("live on 1/1 production host(s)");
    expect(prod.current()).toBe(v2.version);
    const dir = path.join(prod.root, "versions", v2.version);
    expect(fs.readFileSync(path.join(dir, "model.onnx")).equals(fs.readFileSync(path.join(V2, "model.onnx")))).toBe(true);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o755);
    expect(fs.statSync(path.join(dir, "model.onnx")).mode & 0o777).toBe(0o644);
    expect(fs.statSync(path.join(dir, "model.json")).mode & 0o777).toBe(0o644);
    expect(prod.versions()).toEqual([v1.version, v2.version].sort());
    expect(gitLog(dev)[0]).toBe(`promote ${v2.version}`);
    // promoting the same files again is a no-op
    const again = promote(dev, V2);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to do");
    assertNoPartialState(prod.root);
  });

  test("a worse model is rejected with the gate's reason; nothing changes", () => {
    const { prod, dev } = freshPair("worse", 3);
    const r = promote(dev, V1);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`FAILED on ${prod.repo}`);
    expect(r.stderr).toMatch(/gate: REJECT: candidate \S+ [\d.]+ is not better than the current model's/);
    expect(prod.current()).toBe(v2.version);
    expect(gitLog(dev)[0]).toBe(`promote ${v2.version}`); // the rejected commit was undone
    expect(ok("git", ["--git-dir", prod.repo, "log", "-1", "--format=%s"]).stdout.trim()).toBe(`promote ${v2.version}`);
    assertNoPartialState(prod.root);
  });

  test("corrupt models are rejected: truncated ONNX, garbage ONNX, broken card", () => {
    const { prod, dev } = freshPair("corrupt", 3);
    const onnx = fs.readFileSync(path.join(V2, "model.onnx"));
    const cases: Array<{ dir: string; expect: RegExp }> = [];
    const mk = (name: string, o: Parameters<typeof deriveModel>[2], re: RegExp) => {
      cases.push({ dir: deriveModel(V2, path.join(base, "models", name), o), expect: re });
    };
    mk("truncated", { version: versionId(901), delta: 5, onnx: onnx.subarray(0, onnx.length >> 1) }, /sha256 .* does not match/);
    mk(
      "garbage",
      { version: versionId(902), delta: 5, onnx: Buffer.from("not an onnx model"), fixSha: true },
      /does not load in onnxruntime/,
    );
    for (const c of cases) {
      const r = promote(dev, c.dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(c.expect);
    }
    // a card that is not JSON: rejected by the hook before the gate
    const broken = path.join(base, "models", "broken-card");
    fs.mkdirSync(broken, { recursive: true });
    fs.copyFileSync(path.join(V2, "model.onnx"), path.join(broken, "model.onnx"));
    fs.writeFileSync(path.join(broken, "model.json"), "{ not json");
    fs.copyFileSync(path.join(broken, "model.json"), path.join(dev, "model.json"));
    fs.copyFileSync(path.join(broken, "model.onnx"), path.join(dev, "model.onnx"));
    ok("git", ["-C", dev, "add", "model.json", "model.onnx"]);
    const c = run("git", ["-C", dev, "commit", "-q", "-m", "broken card"]);
    expect(c.code).toBe(0); // the post-commit hook cannot fail a commit, it reports
    expect(c.stderr).toContain("model.json is not a JSON object with a 'version'");
    expect(c.stderr).toContain(`FAILED on ${prod.repo}`);
    expect(fs.readFileSync(path.join(dev, ".git/promotion/last-push"), "utf8")).toMatch(/ rejected /);
    ok("git", ["-C", dev, "reset", "-q", "--hard", "HEAD~1"]);
    // model.json as a symlink (e.g. to a file outside the repo): refused before extraction
    fs.rmSync(path.join(dev, "model.json"));
    fs.symlinkSync("/etc/hostname", path.join(dev, "model.json"));
    ok("git", ["-C", dev, "add", "model.json"]);
    const l = run("git", ["-C", dev, "commit", "-q", "-m", "symlinked card"]);
    expect(l.stderr).toContain("model.json must be a regular file (found: 120000 blob)");
    ok("git", ["-C", dev, "reset", "-q", "--hard", "HEAD~1"]);
    expect(prod.current()).toBe(v2.version);
    expect(prod.versions()).toEqual([v1.version, v2.version].sort());
    assertNoPartialState(prod.root);
  });

  test("with the evaluation set: both models scored on the same rows; promote -> rollback -> promote is the history", () => {
    const prod = production(base, "evalset", 3, py, { PROMOTION_EVAL_SET: EVAL_SET, PROMOTION_MIN_IMPROVEMENT: "0.005" });
    expect(fs.readFileSync(path.join(prod.repo, "promotion.conf"), "utf8")).toContain(`EVAL_SET=${EVAL_SET}\nMIN_IMPROVEMENT=0.005\n`);
    const dev = development(base, "evalset-dev", [prod.repo], key);
    expect(promote(dev, V1).code).toBe(0);
    const r2 = promote(dev, V2);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toMatch(
      /gate: ACCEPT \S+ \(ridge\): rmse [\d.]+ vs live [\d.]+ \(-[\d.]+ %, margin 0.5 %\) on evaluation set diabetes v1 \(88 rows\)/,
    );
    // v1 over v2 is refused with both scores on the shared set, the cards' own numbers beside them
    const back = deriveModel(V1, path.join(base, "models", "v1-again"), { version: versionId(950) });
    const again = run("bash", [
      "-c",
      `cd ${dev} && cp ${back}/model.onnx ${back}/model.json . && git add -A && git commit -q -m again; echo rc=$?`,
    ]);
    expect(again.stderr).toMatch(
      /REJECTED \S+: gate: REJECT: candidate rmse [\d.]+ vs live [\d.]+ \(version \S+\) on evaluation set diabetes v1 \(88 rows\): not better by at least 0.5 %.*card's test rmse: candidate/,
    );
    ok("git", ["-C", dev, "reset", "-q", "--hard", "HEAD~1"]);
    expect(rollback(dev).code).toBe(0); // back to v1: allowed, scores recorded
    expect(prod.current()).toBe(v1.version);
    expect(promote(dev, V2).code).toBe(0); // v2 again: gated normally over v1, better on the set
    expect(prod.current()).toBe(v2.version);
    const h = prod.history();
    console.log(`history: ${JSON.stringify(h.map((e) => [e.kind, e.version, e.gate?.candidate.score, e.gate?.current?.score]))}`);
    expect(h.map((e) => [e.kind, e.version, e.previous])).toEqual([
      ["promote", v1.version, null],
      ["promote", v2.version, v1.version],
      ["rollback", v1.version, v2.version],
      ["promote", v2.version, v1.version],
    ]);
    const commits = ok("git", ["-C", dev, "log", "--format=%H"]).stdout.trim().split("\n").reverse();
    expect(h.map((e) => e.commit)).toEqual(commits);
    const v2score = h[1].gate?.candidate.score as number;
    const v1score = h[0].gate?.candidate.score as number;
    expect(v2score).toBeLessThan(v1score * 0.995);
    expect(h[1].gate?.current?.score).toBe(v1score);
    expect(h[2].gate?.candidate.score).toBe(v1score); // the same rows give the same score
    expect(h[3].gate?.current?.score).toBe(v1score);
    expect(new Set(h.map((e) => e.gate?.evalSet.sha256)).size).toBe(1);
    expect(fs.statSync(path.join(prod.root, "history.jsonl")).mode & 0o777).toBe(0o644);
  });

  test("rollback brings the previous version back through the hooks; forged rollbacks are refused", () => {
    const { prod, dev } = freshPair("rollback", 3);
    const r = rollback(dev);
    console.log(`rollback took ${r.ms} ms`);
    expect(r.code).toBe(0);
    expect(prod.current()).toBe(v1.version);
    expect(gitLog(dev)[0]).toBe(`rollback to ${v1.version} (was ${v2.version})`);
    expect(ok("git", ["-C", dev, "log", "-1", "--format=%(trailers:key=Rollback-To,valueonly)"]).stdout.trim()).toBe(v1.version);
    // rolling back again = the version before, i.e. v2
    expect(rollback(dev).code).toBe(0);
    expect(prod.current()).toBe(v2.version);
    // explicit target
    expect(rollback(dev, v1.version).code).toBe(0);
    expect(prod.current()).toBe(v1.version);

    // forged: a version never accepted here, marked as a rollback (worse than v1's metric too)
    const neverSeen = deriveModel(V1, path.join(base, "models", "never-seen"), { version: versionId(903), delta: -10 });
    const forge = (dir: string, version: string) => {
      fs.copyFileSync(path.join(dir, "model.json"), path.join(dev, "model.json"));
      fs.copyFileSync(path.join(dir, "model.onnx"), path.join(dev, "model.onnx"));
      ok("git", ["-C", dev, "add", "model.json", "model.onnx"]);
      const c = run("git", ["-C", dev, "commit", "-q", "-m", "forged", "-m", `Rollback-To: ${version}`]);
      ok("git", ["-C", dev, "reset", "-q", "--hard", "HEAD~1"]);
      return c.stderr;
    };
    expect(forge(neverSeen, versionId(903))).toContain("it was never accepted on this machine");
    // forged: an accepted version id with different files
    const tampered = deriveModel(V1, path.join(base, "models", "tampered"), { version: v2.version, delta: -10 });
    expect(forge(tampered, v2.version)).toContain("the files differ from the ones accepted here");
    // trailer that does not match the card
    expect(forge(V2, v1.version)).toContain(`Rollback-To: ${v1.version} but model.json is version ${v2.version}`);
    expect(prod.current()).toBe(v1.version);
    assertNoPartialState(prod.root);
  });

  test("several production hosts: each named; one rejecting is reported loudly", () => {
    const a = production(base, "multi-a", 3, py);
    const b = production(base, "multi-b", 3, py);
    // b already serves a model better than v2 (promoted from elsewhere)
    const elsewhere = development(base, "multi-elsewhere", [b.repo], key);
    const best = better(50);
    expect(promote(elsewhere, best.dir).code).toBe(0);
    const dev = development(base, "multi-dev", [a.repo, b.repo], key);
    const r = promote(dev, V2);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${a.repo} accepted promote ${v2.version}`);
    expect(r.stderr).toContain(`FAILED on ${b.repo}`);
    expect(r.stderr).toContain("REJECTED by 1 of 2 host(s)");
    expect(r.stderr).toContain("hosts now serve different models");
    expect(a.current()).toBe(v2.version);
    expect(b.current()).toBe(best.version);
  });

  test("two concurrent pushes are serialised: both finish, consistent final state", async () => {
    const prod = production(base, "concurrent", 4, py);
    const seed = development(base, "concurrent-seed", [prod.repo], key);
    expect(promote(seed, V1).code).toBe(0);
    const clones = ["A", "B"].map((c) => {
      const dir = path.join(base, `concurrent-clone-${c}`);
      ok("git", ["clone", "-q", prod.repo, dir]);
      ok("git", ["-C", dir, "config", "user.email", "t@example.invalid"]);
      ok("git", ["-C", dir, "config", "user.name", "t"]);
      return dir;
    });
    const rounds = 3;
    let contended = 0;
    for (let round = 0; round < rounds; round++) {
      const models = clones.map((dir, i) => {
        ok("git", ["-C", dir, "fetch", "-q", "origin"]);
        ok("git", ["-C", dir, "reset", "-q", "--hard", "origin/main"]);
        const m = better(10 * (round + 1) + i + 1);
        fs.copyFileSync(path.join(m.dir, "model.json"), path.join(dir, "model.json"));
        fs.copyFileSync(path.join(m.dir, "model.onnx"), path.join(dir, "model.onnx"));
        ok("git", ["-C", dir, "add", "model.json", "model.onnx"]);
        ok("git", ["-C", dir, "commit", "-q", "-m", `promote ${m.version}`]);
        return m;
      });
      const logBefore = prod.log().length;
      const results = await Promise.all(clones.map((dir) => runAsync("git", ["-C", dir, "push", "origin", "HEAD:refs/heads/main"])));
      const codes = results.map((r) => r.code);
      const why = results
        .filter((r) => r.code !== 0)
        .map((r) =>
          r.stderr
            .split("\n")
            .filter((l) => /remote: promotion|!|error:/.test(l))
            .join(" | "),
        );
      console.log(`round ${round}: push exit codes ${codes} in ${results.map((r) => r.ms)} ms; ${why}`);
      expect(codes).toContain(0);
      const tipCard = JSON.parse(ok("git", ["--git-dir", prod.repo, "show", "main:model.json"]).stdout);
      expect(models.map((m) => m.version)).toContain(tipCard.version);
      expect(prod.current()).toBe(tipCard.version);
      assertNoPartialState(prod.root);
      // the lock: each push's [locked, unlocked|reject] interval contains no other push's
      const events = prod
        .log()
        .slice(logBefore)
        .map((l) => l.split(" "));
      let holder: string | null = null;
      const waited = new Set<string>();
      for (const [, pid, what] of events) {
        if (what === "wait-lock") waited.add(pid);
        if (what === "locked") {
          expect(holder).toBeNull();
          holder = pid;
        } else if (what === "unlocked" || what === "reject") {
          if (holder === pid) holder = null;
        } else if (["gate-start", "gate-end"].includes(what)) {
          expect(holder).toBe(pid);
        }
      }
      const lockedPids = events.filter((e) => e[2] === "locked").map((e) => e[1]);
      for (const e of events.filter((e) => e[2] === "locked")) {
        expect(e[4]).toMatch(/^watch=\d+:git(-receive-pac)?$/);
      }
      expect(lockedPids.length).toBe(2);
      // did the second push really wait for the first? (its wait-lock before the first unlock)
      const idx = (pid: string, what: string) => events.findIndex((e) => e[1] === pid && e[2] === what);
      const firstEnd = Math.max(idx(lockedPids[0], "unlocked"), idx(lockedPids[0], "reject"));
      if (idx(lockedPids[1], "wait-lock") < firstEnd) contended += 1;
    }
    console.log(`concurrent pushes: ${contended}/${rounds} rounds had the second push waiting on the lock`);
    expect(contended).toBeGreaterThan(0);
  });

  test("`current` never dangles while switching many times", async () => {
    const { prod, dev } = freshPair("dangle", 5);
    const stop = path.join(base, "dangle-stop");
    const reader = runAsync(py, [
      "-c",
      `
import json, os, sys
cur, stop, allowed = sys.argv[1], sys.argv[2], set(sys.argv[3:])
reads = fails = 0
errors = []
while not os.path.exists(stop):
    reads += 1
    try:
        with open(os.path.join(cur, "model.json"), encoding="utf-8") as fh:
            v = json.load(fh)["version"]
        if v not in allowed:
            raise ValueError("unexpected version " + v)
    except Exception as exc:
        fails += 1
        errors.append(repr(exc))
print(json.dumps({"reads": reads, "fails": fails, "errors": errors[:5]}))
`,
      path.join(prod.root, "current"),
      stop,
      v1.version,
      v2.version,
    ]);
    // 1) the switch primitive the post-receive hook uses, many times in a row
    const switches = 1000; // even: ends on v2, where the hooks left it
    const t0 = Date.now();
    let switchMs = 0;
    const hookSwitches = 6;
    let stopped = false;
    const stopReader = () => {
      if (!stopped) fs.writeFileSync(stop, "");
      stopped = true;
    };
    try {
      const sw = await runAsync(
        "bash",
        [
          "-c",
          `set -euo pipefail; . "$1/hooks/promotion-lib.sh"
       for ((i = 0; i < $3; i++)); do
         if ((i % 2)); then switch_current "$2" "$5"; else switch_current "$2" "$4"; fi
       done`,
          "switch",
          prod.repo,
          prod.root,
          String(switches),
          v1.version,
          v2.version,
        ],
        { env: { GIT_DIR: prod.repo } },
      );
      expect(sw.stderr).toBe("");
      expect(sw.code).toBe(0);
      switchMs = Date.now() - t0;
      // 2) real promotions through the hooks: rollbacks back and forth
      for (let i = 0; i < hookSwitches; i++) {
        const r = await runAsync(path.join(SCRIPTS, "rollback.sh"), [dev]);
        if (r.code !== 0) console.log(r.stdout, r.stderr);
        expect(r.code).toBe(0);
      }
    } finally {
      stopReader();
    }
    const result = JSON.parse((await reader).stdout);
    console.log(
      `reader: ${result.reads} reads of current/model.json, ${result.fails} failures, during ` +
        `${switches} direct switches (${switchMs} ms) + ${hookSwitches} switches through the hooks`,
    );
    expect(result.errors).toEqual([]);
    expect(result.fails).toBe(0);
    expect(result.reads).toBeGreaterThan(1000);
    expect(prod.current()).toBe(v2.version); // 6 rollbacks from v2: back to v2
    assertNoPartialState(prod.root);
  });

  test("pruning keeps the last K versions, and never the current or previous one", () => {
    const prod = production(base, "prune", 3, py);
    const dev = development(base, "prune-dev", [prod.repo], key);
    expect(promote(dev, V1).code).toBe(0);
    const made = [];
    for (let i = 1; i <= 5; i++) {
      const m = better(100 + i);
      expect(promote(dev, m.dir).code).toBe(0);
      made.push(m.version);
    }
    expect(prod.versions()).toEqual(made.slice(-3).sort());
    expect(prod.current()).toBe(made[4]);

    // K=2 with a rollback: the previous version survives the next promotion
    const { prod: p2, dev: d2 } = freshPair("prune-k2", 2);
    expect(rollback(d2).code).toBe(0); // current v1, previous v2
    expect(p2.versions()).toEqual([v1.version, v2.version].sort());
    const m = better(200);
    expect(promote(d2, m.dir).code).toBe(0); // current m, previous v1
    expect(p2.versions()).toEqual([v1.version, m.version].sort());
    expect(p2.current()).toBe(m.version);
    assertNoPartialState(p2.root);
  });

  test("install-hooks.sh is idempotent", () => {
    const prod = production(base, "idem", 3, py);
    const r = ok(path.join(SCRIPTS, "install-hooks.sh"), [prod.repo, prod.root, "3", py, TUNING_SRC]);
    expect(r.stdout.trim().split("\n").pop()).toBe("changed=false");
    const bad = run(path.join(SCRIPTS, "install-hooks.sh"), [prod.repo, prod.root, "1", py, TUNING_SRC]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("keep-K must be an integer >= 2");
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe("setup-production.sh and setup-development.sh for real (root, throwaway user, private sshd)", () => {
  const user = `rsprom${process.pid.toString(16)}`;
  let home: string;
  let root: string;
  let shellsBefore: string;
  let sshd: ChildProcess | undefined;
  const isRoot = process.getuid?.() === 0;

  afterAll(() => {
    if (sshd?.pid) process.kill(sshd.pid, "SIGTERM");
    if (!isRoot) return;
    run("userdel", ["-r", user]);
    run("groupdel", [user]);
    if (shellsBefore !== undefined) fs.writeFileSync("/etc/shells", shellsBefore);
  });

  test("creates the git-shell user, restricted key, bare repo and hooks; idempotent; pushes over ssh", async () => {
    if (!isRoot) {
      console.warn("not root: setup-production.sh not tested");
      return;
    }
    shellsBefore = fs.readFileSync("/etc/shells", "utf8");
    home = path.join(base, `home-${user}`);
    root = path.join(base, "srv-models");
    const env = { PROMOTION_USER: user, PROMOTION_HOME: home };
    const pub = fs.readFileSync(`${key}.pub`, "utf8");
    const args = [root, "3", py, TUNING_SRC];
    const first = run(path.join(SCRIPTS, "setup-production.sh"), args, { input: pub, env });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout.trim().split("\n").pop()).toBe("changed=true");
    const second = ok(path.join(SCRIPTS, "setup-production.sh"), args, { input: pub, env });
    expect(second.stdout.trim().split("\n").pop()).toBe("changed=false");
    const bad = run(path.join(SCRIPTS, "setup-production.sh"), args, { input: "not a key\n", env });
    expect(bad.code).toBe(2);
    // key rotation: another key replaces the old one, then back
    const other = path.join(base, "other_key");
    ok("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    const rotated = ok(path.join(SCRIPTS, "setup-production.sh"), args, {
      input: fs.readFileSync(`${other}.pub`, "utf8"),
      env,
    });
    expect(rotated.stdout.trim().split("\n").pop()).toBe("changed=true");
    expect(fs.readFileSync(path.join(home, ".ssh/authorized_keys"), "utf8")).not.toContain(pub.trim());
    ok(path.join(SCRIPTS, "setup-production.sh"), args, { input: pub, env });

    const pw = ok("getent", ["passwd", user]).stdout.trim().split(":");
    expect(pw[6]).toBe("/usr/bin/git-shell");
    expect(fs.readFileSync("/etc/shells", "utf8").split("\n")).toContain("/usr/bin/git-shell");
    const ak = path.join(home, ".ssh/authorized_keys");
    expect(fs.statSync(ak).mode & 0o777).toBe(0o600);
    expect(fs.statSync(ak).uid).toBe(Number(pw[2]));
    expect(fs.readFileSync(ak, "utf8")).toBe(
      `restrict,no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc ${pub.trim()}\n`,
    );
    expect(fs.statSync(path.join(home, "models.git/hooks/pre-receive")).mode & 0o111).toBeTruthy();
    expect(fs.readFileSync(path.join(home, "models.git/promotion.conf"), "utf8")).toContain(`MODEL_ROOT=${root}`);
    expect(fs.statSync(root).uid).toBe(Number(pw[2]));

    if (!fs.existsSync("/usr/sbin/sshd")) {
      console.warn("no /usr/sbin/sshd: the push over ssh was not tested (apt-get install -y openssh-server)");
      return;
    }
    const port = await freePort();
    const hostKey = path.join(base, "ssh_host_ed25519_key");
    ok("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
    const cfg = path.join(base, "sshd_config");
    fs.writeFileSync(
      cfg,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${hostKey}`,
        `PidFile ${path.join(base, "sshd.pid")}`,
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "AuthorizedKeysFile .ssh/authorized_keys",
        "StrictModes yes",
        `AllowUsers ${user}`,
        "LogLevel VERBOSE",
        "",
      ].join("\n"),
    );
    fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    let sshdLog = "";
    sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
    sshd.stderr?.on("data", (d) => (sshdLog += d));
    const knownHosts = path.join(base, "known_hosts");
    for (let i = 0; i < 50; i++) {
      const scan = run("ssh-keyscan", ["-p", String(port), "-t", "ed25519", "127.0.0.1"]);
      if (scan.code === 0 && scan.stdout.includes("ssh-ed25519")) {
        fs.writeFileSync(knownHosts, scan.stdout);
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fs.existsSync(knownHosts)).toBe(true);

    const dev = path.join(base, "ssh-dev");
    const target = `${user}@127.0.0.1:${port}`;
    const setup = ok(path.join(SCRIPTS, "setup-development.sh"), [dev, target], {
      input: fs.readFileSync(key, "utf8"),
      env: { PROMOTION_KNOWN_HOSTS: knownHosts },
    });
    expect(setup.stdout.trim().split("\n").pop()).toBe("changed=true");
    const setup2 = ok(path.join(SCRIPTS, "setup-development.sh"), [dev, target], {
      input: fs.readFileSync(key, "utf8"),
      env: { PROMOTION_KNOWN_HOSTS: knownHosts },
    });
    expect(setup2.stdout.trim().split("\n").pop()).toBe("changed=false");
    expect(fs.statSync(path.join(dev, ".git/promotion/deploy_key")).mode & 0o777).toBe(0o600);

    const p1 = promote(dev, V1);
    if (p1.code !== 0) console.log(p1.stdout, p1.stderr, sshdLog);
    expect(p1.code).toBe(0);
    const p2 = promote(dev, V2);
    console.log(`promote over ssh took ${p2.ms} ms`);
    expect(p2.code).toBe(0);
    const worse = promote(dev, V1);
    expect(worse.code).toBe(1);
    expect(worse.stderr).toContain(`FAILED on ${user}@127.0.0.1`);
    expect(worse.stderr).toContain("is not better than the current model's");
    expect(rollback(dev).code).toBe(0);
    const cur = fs.readlinkSync(path.join(root, "current"));
    expect(cur).toBe(`versions/${v1.version}`);
    expect(fs.statSync(path.join(root, cur, "model.onnx")).uid).toBe(Number(pw[2]));

    // the lock holder watched the right process (git receive-pack run by git-shell)
    const locked = fs
      .readFileSync(path.join(home, "models.git/promotion.log"), "utf8")
      .split("\n")
      .filter((line) => line.includes(" locked "));
    expect(locked.length).toBeGreaterThanOrEqual(4);
    for (const line of locked) expect(line).toMatch(/ watch=\d+:git(-receive-pac)?$/);

    // StrictHostKeyChecking=yes with the keys known-host.sh files, one machine at a time (what
    // the program does with the host keys it knows): without the machine's line, or with another
    // key, ssh refuses the machine; with its own key the repo reaches it; removed, refused again
    const strictDev = path.join(base, "ssh-dev-strict");
    const strict = { input: fs.readFileSync(key, "utf8"), env: { PROMOTION_STRICT_HOST_KEYS: "yes" } };
    expect(ok(path.join(SCRIPTS, "setup-development.sh"), [strictDev, target], strict).stdout.trim().split("\n").pop()).toBe(
      "changed=true",
    );
    expect(run("git", ["-C", strictDev, "config", "core.sshCommand"]).stdout).toContain("-o StrictHostKeyChecking=yes");
    const reach = () => run("git", ["-C", strictDev, "ls-remote", "production", "refs/heads/main"]);
    const knownHost = (action: string, input = "") =>
      run(path.join(SCRIPTS, "known-host.sh"), [action, strictDev, `[127.0.0.1]:${port}`], { input });
    const unknown = reach();
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("Host key verification failed");
    expect(knownHost("add", fs.readFileSync(`${other}.pub`, "utf8")).stdout.trim()).toBe("changed=true");
    const wrong = reach();
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toContain("Host key verification failed");
    expect(knownHost("add", fs.readFileSync(`${hostKey}.pub`, "utf8")).stdout.trim()).toBe("changed=true");
    expect(knownHost("add", fs.readFileSync(`${hostKey}.pub`, "utf8")).stdout.trim()).toBe("changed=false");
    const reached = reach();
    if (reached.code !== 0) console.log(reached.stderr, sshdLog);
    expect(reached.code).toBe(0);
    expect(reached.stdout).toMatch(/^[0-9a-f]{40}\trefs\/heads\/main$/m);
    // a second setup (a re-run of the program's step) keeps the filed keys
    expect(ok(path.join(SCRIPTS, "setup-development.sh"), [strictDev, target], strict).stdout.trim().split("\n").pop()).toBe(
      "changed=false",
    );
    expect(reach().code).toBe(0);
    expect(knownHost("remove").stdout.trim()).toBe("changed=true");
    expect(reach().stderr).toContain("Host key verification failed");

    // the deploy key gives git and nothing else
    const sshArgs = [
      "-i",
      key,
      "-p",
      String(port),
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
    ];
    const shell = run("ssh", [...sshArgs, `${user}@127.0.0.1`, "id"]);
    expect(shell.code).not.toBe(0);
    expect(shell.stdout).not.toContain("uid=");
    expect(shell.stderr).toContain("unrecognized command");
    const interactive = run("ssh", [...sshArgs, "-tt", `${user}@127.0.0.1`]);
    expect(interactive.code).not.toBe(0);
    expect(interactive.stdout).not.toContain("uid=");
    const fwd = run("ssh", [...sshArgs, "-W", `127.0.0.1:${port}`, `${user}@127.0.0.1`]);
    expect(fwd.code).not.toBe(0);
    expect(fwd.stdout).not.toContain("SSH-2.0");
  });
});
