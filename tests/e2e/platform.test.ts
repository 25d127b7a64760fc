/**
 * End to end: the whole platform with the real `pulumi up` on five node containers (the
 * original layout: orchestration, Ray head, Ray worker, Swarm manager, Swarm worker) through
 * the `existing` environment. Asserts the swarm, Ray, the initial model through the git hooks,
 * predictions and the web page, a promotion under load with zero failed requests, a rejected
 * worse model, an idempotent second `up`, and a `destroy` that leaves nothing behind.
 *
 * Phase timings are written to $RAYSWARM_E2E_TIMINGS (default: <tmp>/e2e-timings.json).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { chromium } from "playwright-core";
import { Fleet, Node, must, run, sshKeyPair } from "../integration/support/nodes";
import { REPO } from "./support/pulumi";
import { Deployer, engineMissing, makeDeployer } from "./support/deployer";

const SUITE = "e2e";
const NAMES = ["orchestration", "ray-head", "ray-worker", "swarm-manager", "swarm-worker"] as const;
const PORT = 8080;
const MODEL_ROOT = "/srv/rayswarm/models";
const REPO_DIR = "/var/lib/rayswarm/models-repo";
const IMAGES = { serving: "rayswarm/serving:dev", rabbitmq: "rayswarm/rabbitmq:3", redis: "rayswarm/redis:7" };

const work = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-e2e-"));
const fleet = new Fleet(SUITE);
let deployer: Deployer;
const timings: Record<string, number> = {};
let nodes: Record<(typeof NAMES)[number], Node>;
let outputs: Record<string, unknown> = {};
let initialVersion = "";

async function timed<T>(phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[phase] = Math.round((Date.now() - t0) / 100) / 10;
    console.log(`e2e phase ${phase}: ${timings[phase]} s`);
  }
}

const api = () => `http://${nodes["swarm-manager"].ip}:${PORT}`;

async function sh(node: Node, script: string): Promise<string> {
  const r = await node.exec(["bash", "-c", script]);
  if (r.code !== 0) throw new Error(`${node.name}: ${script}\nexit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

/** A valid feature vector from the model card: the middle of each observed range. */
async function features(): Promise<Record<string, number>> {
  const card = (await (await fetch(`${api()}/v1/model`)).json()) as { features: { name: string; min: number; max: number }[] };
  return Object.fromEntries(card.features.map((f) => [f.name, (f.min + f.max) / 2]));
}

async function predict(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${api()}/v1/predictions?wait=5000`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function waitFor<T>(what: string, seconds: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`timed out after ${seconds}s waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** The model version `current` points to on a production node. */
const currentVersion = (node: Node) =>
  sh(node, `python3 -c 'import json; print(json.load(open("${MODEL_ROOT}/current/model.json"))["version"])'`);

/** On the development machine: export a model with a fixed configuration through the real exporter. */
async function exportModel(dir: string, family: string, params: Record<string, number>): Promise<string> {
  await sh(
    nodes["ray-head"],
    `rm -rf ${dir} && cd /opt/rayswarm/current/tuning && PYTHONPATH=. /opt/rayswarm/venv/bin/python -m rayswarm_tuning.export ` +
      `--data builtin:diabetes --target target --family ${family} --params '${JSON.stringify(params)}' --out ${dir} >&2`,
  );
  return sh(nodes["ray-head"], `python3 -c 'import json; print(json.load(open("${dir}/model.json"))["version"])'`);
}

beforeAll(
  async () => {
    await timed("images", async () => {
      must("bash", [path.join(REPO, "scripts/images/start-dockerd.sh")]);
      must("bash", [path.join(REPO, "scripts/images/base-image.sh")]);
      must("bash", [path.join(REPO, "scripts/images/build-images.sh"), "node", "rabbitmq", "redis", "serving"]);
      must("bash", [path.join(REPO, "scripts/images/save-images.sh"), path.join(work, "images"), ...Object.values(IMAGES)]);
    });
    const key = sshKeyPair();
    await timed("hosts", async () => {
      const started = await fleet.start(NAMES, { pipCache: true, authorizedKeys: key.publicKey });
      nodes = Object.fromEntries(NAMES.map((n, i) => [n, started[i]])) as typeof nodes;
    });

    // The stack config: the existing environment over the five containers, reached through the
    // orchestration container (the bastion), images preloaded from tarballs, dnsrr + host ports
    // (this kernel has no IPVS), a deliberately small initial search (one trial).
    const hosts = NAMES.map((n) => ({ name: nodes[n].name, address: nodes[n].ip, user: "root", roles: [n] }));
    const tarballs = fs
      .readdirSync(path.join(work, "images"))
      .filter((f) => f.endsWith(".tar"))
      .map((f) => path.join(work, "images", f));
    const cfg = {
      config: {
        "rayswarm:environment": "existing",
        "rayswarm:hosts": hosts,
        "rayswarm:sshUser": "root",
        "rayswarm:endpointMode": "dnsrr",
        "rayswarm:publishMode": "host",
        "rayswarm:overlayEncryption": process.env.RAYSWARM_E2E_ENCRYPT === "1",
        "rayswarm:servingImage": IMAGES.serving,
        "rayswarm:rabbitmqImage": IMAGES.rabbitmq,
        "rayswarm:redisImage": IMAGES.redis,
        "rayswarm:imageTarballs": tarballs,
        "rayswarm:apiReplicas": 2,
        "rayswarm:workerReplicas": 2,
        "rayswarm:tuningTrials": 1,
        "rayswarm:tuningTimeBudget": 300,
      },
    };
    deployer = makeDeployer("e2e", work, cfg.config, fs.readFileSync(key.privateKey, "utf8"));
    console.log(
      deployer.kind === "pulumi"
        ? "e2e: deploying with the real Pulumi engine (pulumi up)"
        : `e2e: the real Pulumi engine cannot run the program here (${engineMissing()}); deploying with the engine-less runner (tools/runner), which executes the program's own resources in its dependency order`,
    );
  },
  60 * 60 * 1000,
);

afterAll(async () => {
  fs.writeFileSync(process.env.RAYSWARM_E2E_TIMINGS ?? path.join(work, "e2e-timings.json"), JSON.stringify(timings, null, 2));
  console.log(`e2e timings: ${JSON.stringify(timings)}\nwork folder: ${work}`);
  fleet.cleanup();
});

describe("the whole platform on five node containers", () => {
  test("pulumi up builds it", async () => {
    const r = await timed("bootstrap (pulumi up)", () => deployer.up());
    expect(r.total).toBeGreaterThan(50);
    expect(r.changed).toBeGreaterThan(20);
    outputs = await deployer.outputs();
    expect(outputs.environmentKind).toBe("existing");
    initialVersion = String(outputs.modelVersion);
    expect(initialVersion).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
  });

  test("the swarm has 2 nodes Ready; Ray shows 2 nodes", async () => {
    const ls = await sh(nodes["swarm-manager"], "docker node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'");
    const lines = ls.split("\n").sort();
    expect(lines).toEqual(
      [`${nodes["swarm-manager"].name} Ready Leader`, `${nodes["swarm-worker"].name} Ready `].map((l) => l.trim()).sort(),
    );
    const status = await sh(nodes["ray-head"], `/opt/rayswarm/venv/bin/ray status --address ${nodes["ray-head"].ip}:6379`);
    const active = status.slice(status.indexOf("Active:"), status.indexOf("Pending:"));
    expect((active.match(/node_/g) ?? []).length).toBe(2);
    expect((outputs.swarmNodes as unknown[]).length).toBe(2);
  });

  test("the initial tuning job ran on the Ray cluster and its model reached both production machines", async () => {
    const card = JSON.parse(await sh(nodes["ray-head"], "cat /var/lib/rayswarm/tuning/initial/model.json")) as { version: string };
    expect(card.version).toBe(initialVersion);
    for (const n of [nodes["swarm-manager"], nodes["swarm-worker"]]) {
      expect(await currentVersion(n)).toBe(initialVersion);
      expect(await sh(n, `readlink ${MODEL_ROOT}/current`)).toBe(`versions/${initialVersion}`);
    }
    // it went through the git hooks: the bare repo on production has the commit
    const log = await sh(nodes["swarm-worker"], "git -c safe.directory='*' -C /home/git/models.git log --format=%s -1");
    expect(log).toContain(initialVersion);
  });

  test("a prediction on the published port is stamped with that model version; the web page works in Chromium", async () => {
    const first = await timed("first prediction", () =>
      waitFor("a prediction with the initial model", 180, async () => {
        const r = await predict({ features: await features() });
        return r.status === 200 && r.json.status === "done" ? r : undefined;
      }),
    );
    expect(first.json.modelVersion).toBe(initialVersion);
    expect(typeof first.json.result).not.toBe("undefined");

    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${api()}/`);
      const mid = await features();
      for (const [name, value] of Object.entries(mid)) await page.locator(`form input[name="${name}"]`).fill(String(value));
      expect(Object.keys(mid).length).toBeGreaterThan(3);
      await page.locator("form [type=submit]").first().click();
      // The prediction (not the page header) carries the version: #model-version appears only in the result.
      await page.locator("#result #model-version").waitFor({ timeout: 20000 });
      expect(await page.locator("#result #model-version").innerText()).toBe(initialVersion);
      expect(await page.locator("#result #prediction").innerText()).toMatch(/^-?\d+(\.\d+)?$/);
    } finally {
      await browser.close();
    }
  });

  test("a better model committed on the development machine rolls out under load with zero failed requests; a worse one is rejected", async () => {
    // The one-trial initial search (seed 42) samples ridge(alpha=0.43): test RMSE 59.176 on the
    // seeded diabetes split. This elastic net scores 59.063 with the same exporter: better.
    const better = await exportModel("/tmp/model-better", "elasticnet", { alpha: 1.0, l1_ratio: 0.95 });
    const body = { features: await features() };
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const versions: string[] = [];
    const timeline: { at: number; version: string }[] = [];
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          try {
            const r = await predict(body);
            if (r.status === 200 && r.json.status === "done") {
              ok++;
              const v = String(r.json.modelVersion);
              timeline.push({ at: Date.now(), version: v });
              if (versions[versions.length - 1] !== v) versions.push(v);
            } else failures.push(`${r.status} ${JSON.stringify(r.json)}`);
          } catch (e) {
            failures.push(String(e));
          }
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 5000)); // steady load before
    let promotedAt = 0;
    const promote = await timed("promotion (commit to live everywhere)", async () => {
      const r = await nodes["ray-head"].exec(["bash", "/opt/rayswarm/current/promotion/promote.sh", REPO_DIR, "/tmp/model-better"]);
      promotedAt = Date.now(); // every production machine has switched `current`
      await waitFor("responses stamped with the new model", 120, async () => (versions.includes(better) ? true : undefined));
      return r;
    });
    await new Promise((r) => setTimeout(r, 5000)); // steady load after
    stop = true;
    await load;
    expect({ code: promote.code, stderr: promote.stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) });
    const before = timeline.filter((x) => x.at < promotedAt - 30000);
    const settled = timeline.filter((x) => x.at > promotedAt + 3000); // workers poll `current` every second
    console.log(
      `load during promotion: ${ok} predictions, ${failures.length} failed; ${settled.length} after the switch settled, ` +
        `${timeline.filter((x) => x.version === better).length} stamped with the new model`,
    );
    expect(settled.length).toBeGreaterThan(10);
    expect(new Set(settled.map((x) => x.version))).toEqual(new Set([better]));
    expect(before.every((x) => x.version === initialVersion)).toBe(true);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    expect(versions[0]).toBe(initialVersion);
    expect(versions[versions.length - 1]).toBe(better);
    for (const n of [nodes["swarm-manager"], nodes["swarm-worker"]]) expect(await currentVersion(n)).toBe(better);

    const worse = await exportModel("/tmp/model-worse", "ridge", { alpha: 1000 }); // RMSE 64.3
    const rejected = await nodes["ray-head"].exec(["bash", "/opt/rayswarm/current/promotion/promote.sh", REPO_DIR, "/tmp/model-worse"]);
    expect(rejected.code).toBe(1);
    expect(rejected.stdout + rejected.stderr).toMatch(/REJECTED/);
    for (const n of [nodes["swarm-manager"], nodes["swarm-worker"]]) expect(await currentVersion(n)).toBe(better);
    expect(worse).not.toBe(better);
  });

  test("a second pulumi up reports no changes", async () => {
    const r = await timed("second up", () => deployer.up());
    // engine: no resource changed; runner: every step ran again and every script said changed=false
    expect(r.changed).toBe(0);
    expect(r.total).toBeGreaterThan(50);
  });

  test("pulumi destroy removes everything and leaves no containers behind", async () => {
    await timed("destroy", () => deployer.destroy());
    for (const n of [nodes["swarm-manager"], nodes["swarm-worker"]]) {
      expect(await sh(n, "docker ps -aq | wc -l")).toBe("0");
      expect(await sh(n, "docker info --format '{{.Swarm.LocalNodeState}}'")).toBe("inactive");
    }
    expect(await sh(nodes["ray-head"], "systemctl is-active rayswarm-ray.service || true")).not.toBe("active");
    fleet.cleanup();
    const left = await run("docker", ["ps", "-aq", "--filter", `label=${fleet.label}`]);
    expect(left.stdout.trim()).toBe("");
  });
});
