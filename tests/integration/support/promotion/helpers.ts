/** Helpers for tests/integration/promotion-hooks.test.ts: run the promotion scripts for real. */
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const ROOT = path.resolve(__dirname, "../../../..");
export const SCRIPTS = path.join(ROOT, "scripts/promotion");
export const TUNING_SRC = path.join(ROOT, "workloads/tuning");
export const FIXTURES = path.join(ROOT, "workloads/serving/test/fixtures/models");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion (synchronously); never throws on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    input: opts.input ?? "",
    env: { ...process.env, ...opts.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** Same, asynchronously (for concurrent pushes). */
export function runAsync(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? 128, stdout, stderr, ms: Date.now() - t0 }));
  });
}

/** Like run() but throws with the output when the exit code is not 0. */
export function ok(cmd: string, args: string[], opts: Parameters<typeof run>[2] = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

/** The real gate's python: PROMOTION_GATE_PYTHON, or the cached venv from requirements-gate.txt. */
export function gatePython(): string {
  if (process.env.PROMOTION_GATE_PYTHON) return process.env.PROMOTION_GATE_PYTHON;
  const r = ok(path.join(SCRIPTS, "gate-venv.sh"), [path.join(TUNING_SRC, "requirements-gate.txt")]);
  return r.stdout.trim().split("\n").pop() as string;
}

export interface Card {
  version: string;
  metric: { name: string; value: number; higherIsBetter: boolean };
  onnx: { sha256: string };
  [key: string]: unknown;
}

export function readCard(dir: string): Card {
  return JSON.parse(fs.readFileSync(path.join(dir, "model.json"), "utf8")) as Card;
}

/** Version strings the card schema accepts: 20261129T201500Z-1a2b3c4d. */
export function versionId(n: number): string {
  const hex = crypto.createHash("sha256").update(`variant-${n}`).digest("hex").slice(0, 8);
  return `20270101T${String(100000 + n).slice(-6)}Z-${hex}`;
}

/**
 * Derives a model folder from a fixture: a new version and a metric `delta` better (or worse,
 * when negative) than the fixture's; `onnx` replaces model.onnx's bytes (`fixSha` keeps the
 * card's sha256 consistent with them).
 */
export function deriveModel(src: string, dest: string, opts: { version: string; delta?: number; onnx?: Buffer; fixSha?: boolean }): string {
  fs.mkdirSync(dest, { recursive: true });
  const card = readCard(src);
  const onnx = opts.onnx ?? fs.readFileSync(path.join(src, "model.onnx"));
  card.version = opts.version;
  const d = opts.delta ?? 0;
  card.metric.value = card.metric.higherIsBetter ? card.metric.value + d : card.metric.value - d;
  if (opts.onnx && opts.fixSha) {
    card.onnx.sha256 = crypto.createHash("sha256").update(onnx).digest("hex");
  }
  fs.writeFileSync(path.join(dest, "model.onnx"), onnx);
  fs.writeFileSync(path.join(dest, "model.json"), JSON.stringify(card, null, 2) + "\n");
  return dest;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Production {
  repo: string;
  root: string;
  /** The version `current` points at ("" if none), checking the link is relative. */
  current(): string;
  versions(): string[];
  log(): string[];
  /** The registry's history: one record per switch of `current` (<root>/history.jsonl). */
  history(): HistoryEntry[];
}

export interface HistoryEntry {
  version: string;
  kind: "promote" | "rollback";
  previous: string | null;
  commit: string;
  at: string;
  host: string;
  gate: {
    candidate: { version: string; score: number };
    current: { version: string; score: number | null } | null;
    evalSet: { sha256: string };
  } | null;
}

/** The evaluation set shipped with the tuning package (what the program gives production machines). */
export const EVAL_SET = path.join(TUNING_SRC, "rayswarm_tuning/evalsets/diabetes-v1.json");

/**
 * A production machine's side, as the current user: bare repo + hooks + model root. `env`:
 * install-hooks.sh's optional settings (PROMOTION_EVAL_SET, PROMOTION_MIN_IMPROVEMENT, ...).
 */
export function production(base: string, name: string, keep: number, python: string, env: NodeJS.ProcessEnv = {}): Production {
  const repo = path.join(base, `${name}.git`);
  const root = path.join(base, `${name}-models`);
  ok(path.join(SCRIPTS, "install-hooks.sh"), [repo, root, String(keep), python, TUNING_SRC], { env });
  return {
    repo,
    root,
    current() {
      const link = path.join(root, "current");
      if (!fs.existsSync(link)) return "";
      const target = fs.readlinkSync(link);
      if (!target.startsWith("versions/")) throw new Error(`current -> ${target} is not relative`);
      return path.basename(target);
    },
    versions() {
      return fs.readdirSync(path.join(root, "versions")).sort();
    },
    history() {
      const f = path.join(root, "history.jsonl");
      if (!fs.existsSync(f)) return [];
      return fs
        .readFileSync(f, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as HistoryEntry);
    },
    log() {
      const f = path.join(repo, "promotion.log");
      return fs.existsSync(f) ? fs.readFileSync(f, "utf8").trim().split("\n") : [];
    },
  };
}

/** A development working repo pushing to `targets`; returns its path. */
export function development(base: string, name: string, targets: string[], key: string): string {
  const repo = path.join(base, name);
  ok(path.join(SCRIPTS, "setup-development.sh"), [repo, ...targets], {
    input: fs.readFileSync(key, "utf8"),
  });
  return repo;
}

export function sshKey(base: string): string {
  const key = path.join(base, "deploy_key");
  if (!fs.existsSync(key)) ok("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "deploy", "-f", key]);
  return key;
}

export function promote(repo: string, model: string): RunResult {
  return run(path.join(SCRIPTS, "promote.sh"), [repo, model]);
}

export function rollback(repo: string, version?: string): RunResult {
  return run(path.join(SCRIPTS, "rollback.sh"), version ? [repo, version] : [repo]);
}

export function gitLog(repo: string): string[] {
  return ok("git", ["-C", repo, "log", "--format=%s"]).stdout.trim().split("\n");
}
