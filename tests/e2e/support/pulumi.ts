/**
 * Runs the real Pulumi CLI (scripts/install-pulumi.sh) against this project with a throwaway
 * file backend and stack config file, logging everything to a file. Fails at once, naming what
 * is missing, when the engine is not installed: there is no other way to deploy the program.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO = path.resolve(__dirname, "../../..");

export interface PulumiResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export class PulumiStack {
  readonly dir: string;
  readonly configFile: string;
  readonly log: string;
  private readonly env: NodeJS.ProcessEnv;

  /** Project folder pulumi runs in (the repository, or a copy of it). */
  cwd = REPO;

  constructor(
    readonly stack: string,
    workDir: string,
  ) {
    this.dir = workDir;
    this.configFile = path.join(workDir, `Pulumi.${stack}.yaml`);
    this.log = path.join(workDir, "pulumi.log");
    const home = process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi");
    this.env = {
      ...process.env,
      PATH: `${path.join(home, "bin")}:${process.env.PATH}`,
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: `file://${path.join(workDir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "rayswarm-e2e",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    fs.mkdirSync(path.join(workDir, "state"), { recursive: true });
    const missing = missingEngine(home);
    if (missing.length)
      throw new Error(
        `the Pulumi engine is not installed: ${missing.join(", ")} (run bash scripts/install-pulumi.sh --archives ../shared/engine)`,
      );
  }

  /**
   * `pulumi stack init` without touching the project folder: it writes the stack's encryption
   * salt into a settings file, so it runs in a scratch folder holding a copy of Pulumi.yaml and
   * the salt is moved into this stack's config file.
   */
  async init(): Promise<void> {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-init-"));
    try {
      fs.copyFileSync(path.join(REPO, "Pulumi.yaml"), path.join(scratch, "Pulumi.yaml"));
      const cwd = this.cwd;
      this.cwd = scratch;
      try {
        await this.must(["stack", "init", this.stack]);
      } finally {
        this.cwd = cwd;
      }
      const salt = fs
        .readFileSync(path.join(scratch, `Pulumi.${this.stack}.yaml`), "utf8")
        .split("\n")
        .find((l) => l.startsWith("encryptionsalt:"));
      if (!salt) throw new Error(`pulumi stack init ${this.stack} wrote no encryption salt`);
      fs.appendFileSync(this.configFile, `${salt}\n`);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  }

  /** `pulumi up --yes --skip-preview --json`: the change summary (resources by operation). */
  async up(): Promise<{ changed: number; same: number; summary: Record<string, number> }> {
    const r = await this.must(["up", "--yes", "--skip-preview", "--json"]);
    // `up --json` streams engine events, one JSON object a line; the summary event ends it.
    const events = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { summaryEvent?: { resourceChanges?: Record<string, number>; result?: string } });
    const last = events.reverse().find((e) => e.summaryEvent)?.summaryEvent;
    if (!last) throw new Error(`pulumi up --json printed no summary event; full log: ${this.log}`);
    const summary = last.resourceChanges ?? {};
    const changed = Object.entries(summary)
      .filter(([k]) => k !== "same")
      .reduce((a, [, n]) => a + n, 0);
    return { changed, same: summary.same ?? 0, summary };
  }

  /** `pulumi preview --json`: every step's operation and URN (with `--show-sames`, the unchanged resources' too). */
  async preview(opts: { showSames?: boolean } = {}): Promise<{ op: string; urn: string; type: string }[]> {
    const r = await this.must(["preview", "--json", ...(opts.showSames ? ["--show-sames"] : [])]);
    const doc = JSON.parse(r.stdout) as { steps?: { op: string; urn: string; newState?: { type: string }; oldState?: { type: string } }[] };
    return (doc.steps ?? []).map((s) => ({ op: s.op, urn: s.urn, type: s.newState?.type ?? s.oldState?.type ?? "" }));
  }

  /** Runs `pulumi <args> --stack <stack> --config-file <file>` in the project folder. */
  run(args: string[], input?: string, timeoutMs = 60 * 60 * 1000): Promise<PulumiResult> {
    // Only the commands that read the stack's settings take --config-file.
    const takesConfig = ["up", "preview", "destroy", "refresh", "config"].includes(args[0]);
    const named = args[0] === "stack" && args[1] === "init"; // takes the stack name as its argument
    const full = [
      ...args,
      ...(named ? [] : ["--stack", this.stack]),
      ...(takesConfig ? ["--config-file", this.configFile] : []),
      "--non-interactive",
    ];
    const started = Date.now();
    fs.appendFileSync(this.log, `\n$ pulumi ${full.join(" ")}\n`);
    return new Promise((resolve, reject) => {
      const child = spawn("pulumi", full, { cwd: this.cwd, env: this.env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGINT"), timeoutMs);
      child.stdout.on("data", (d) => {
        stdout += d;
        fs.appendFileSync(this.log, d);
      });
      child.stderr.on("data", (d) => {
        stderr += d;
        fs.appendFileSync(this.log, d);
      });
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr, seconds: (Date.now() - started) / 1000 });
      });
      child.stdin.end(input ?? "");
    });
  }

  async must(args: string[], input?: string): Promise<PulumiResult> {
    const r = await this.run(args, input);
    if (r.code !== 0) {
      const tail = (r.stdout + r.stderr).split("\n").slice(-80).join("\n");
      throw new Error(`pulumi ${args.join(" ")} failed (exit ${r.code}); full log: ${this.log}\n${tail}`);
    }
    return r;
  }

  async outputs(): Promise<Record<string, unknown>> {
    const r = await this.must(["stack", "output", "--json", "--show-secrets"]);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }
}

/** What of the engine is missing: the CLI, the Node.js language host, the plugins package.json pins. */
export function missingEngine(home = process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi")): string[] {
  const missing: string[] = [];
  for (const b of ["pulumi", "pulumi-language-nodejs"]) if (!fs.existsSync(path.join(home, "bin", b))) missing.push(b);
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  for (const [name, v] of Object.entries(pkg.dependencies)) {
    const m = /^@pulumi\/(.+)$/.exec(name);
    if (!m || m[1] === "pulumi") continue;
    if (!fs.existsSync(path.join(home, "plugins", `resource-${m[1]}-v${v}`))) missing.push(`plugin ${m[1]} ${v}`);
  }
  return missing;
}
