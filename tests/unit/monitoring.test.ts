/**
 * The Monitoring component under Pulumi mocks: the generated Prometheus/Alertmanager/relay
 * configuration covers every machine and service of a topology, everything listens on
 * private addresses, and the webhook URL and the Redis password stay Pulumi secrets.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Host } from "../../components/host";
import type { Role } from "../../stacks/schema";
import { buildStackFile } from "../../components/serving";
import { RAY_METRICS_PORT } from "../../components/openstack";
import { rayStartPortArgs } from "../../components/core/ports";
import {
  expectationRules,
  hashFiles,
  Monitoring,
  MonitoringArgs,
  monitoringArgsProblem,
  MONITORING_PORTS,
  PREDICTION_QUEUE,
  readMonitoringScripts,
  readRulesAndConsoles,
  WEBHOOK_PLACEHOLDER,
} from "../../components/monitoring";
import { RunResult, runProgram, unwrap } from "./support/harness";

const CMD = "command:remote:Command";
const WEBHOOK = "https://hooks.example.com/services/T000/B000/very-secret-token";
const REDIS_PASSWORD = "redis-password-that-must-stay-secret";
const ROOT = path.resolve(__dirname, "../..");
const BASTION_SSH =
  "ssh -i ~/.ssh/rayswarm-dev -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-dev.known_hosts debian@198.51.100.7";

interface Layout {
  readonly stack: string;
  readonly machines: readonly { name: string; role: Role; address: string }[];
}

/** A machine's key (its name without the stack): what the steps' names use (components/core/names.ts). */
const keyOf = (l: Layout, machine: string) => machine.slice(`${l.stack}-`.length);

function layout(stack: string, counts: { ray: number; managers: number; workers: number }): Layout {
  const machines: { name: string; role: Role; address: string }[] = [];
  const add = (role: Role, n: number, single = false) => {
    for (let i = 0; i < n; i++)
      machines.push({ name: single ? `${stack}-${role}` : `${stack}-${role}-${i}`, role, address: `10.42.0.${10 + machines.length}` });
  };
  add("orchestration", 1, true);
  add("ray-head", 1, true);
  add("ray-worker", counts.ray);
  add("swarm-manager", counts.managers);
  add("swarm-worker", counts.workers);
  return { stack, machines };
}

const DEV = layout("dev", { ray: 1, managers: 1, workers: 1 });
const PROD = layout("prod", { ray: 3, managers: 3, workers: 3 });

function hostsOf(l: Layout): Host[] {
  return l.machines.map((m) => {
    const ready = new command.local.Command(`${m.name}-ready`, { create: "true" });
    return {
      name: m.name,
      key: keyOf(l, m.name),
      roles: [m.role],
      privateAddress: pulumi.output(m.address),
      user: "debian",
      connection: { host: m.address, user: "debian", privateKey: pulumi.secret("KEY") },
      identity: `${m.name}-id`,
      ready,
      sshCommand: `ssh debian@${m.address}`,
    };
  });
}

function programFor(l: Layout, extra: Partial<MonitoringArgs> = {}) {
  return () => {
    const hosts = hostsOf(l);
    const servingReady = new command.local.Command(`${l.stack}-serving-ready`, { create: "true" });
    const monitoring = new Monitoring("monitoring", {
      stack: l.stack,
      orchestration: hosts[0],
      hosts,
      serving: {
        manager: hosts.find((h) => h.roles.includes("swarm-manager"))!,
        ready: servingReady,
        redisPassword: pulumi.secret(REDIS_PASSWORD),
        image: "rayswarm/monitoring:latest",
        publishMode: "host",
        endpointMode: "dnsrr",
        apiReplicas: 2,
        workerReplicas: 3,
        modelRoot: "/srv/rayswarm/models",
      },
      webhookUrl: pulumi.secret(WEBHOOK),
      bastion: { ssh: BASTION_SSH },
      ...extra,
    });
    return {
      tunnel: monitoring.tunnel,
      consoleUrl: monitoring.consoleUrl,
      prometheusConfig: monitoring.prometheusConfig,
      alertmanagerConfig: monitoring.alertmanagerConfig,
      relayConfig: monitoring.relayConfig,
      stackFile: monitoring.stackFile,
      targets: monitoring.targets,
    };
  };
}

type Scrape = {
  job_name: string;
  honor_labels?: boolean;
  metrics_path?: string;
  params?: Record<string, string[]>;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  file_sd_configs?: { files: string[] }[];
  dns_sd_configs?: { names: string[]; type: string; port: number }[];
};

async function text(v: unknown): Promise<{ value: string; secret: boolean }> {
  const r = await unwrap(v as pulumi.Input<string>);
  return { value: String(r.value ?? ""), secret: r.secret };
}

/** Every string reachable from a resource's inputs, resolved. */
async function allInputs(run: RunResult): Promise<{ name: string; value: string; secret: boolean; key: string }[]> {
  const out: { name: string; value: string; secret: boolean; key: string }[] = [];
  for (const r of run.ofType(CMD))
    for (const key of ["create", "delete", "stdin", "triggers"]) {
      const v = r.props[key];
      if (v === undefined) continue;
      const t = await unwrap(v as pulumi.Input<unknown>);
      out.push({ name: r.name, key, value: JSON.stringify(t.value), secret: t.secret });
    }
  return out;
}

describe.each([DEV, PROD])("Monitoring on the $stack layout", (l) => {
  let run: RunResult;
  let prom: { global: Record<string, unknown>; scrape_configs: Scrape[]; alerting: unknown; rule_files: string[] };
  let promText: string;
  beforeAll(async () => {
    run = await runProgram(l.stack, {}, programFor(l));
    promText = (await text(run.outputs.prometheusConfig)).value;
    prom = yaml.load(promText) as typeof prom;
  });
  const job = (name: string) => prom.scrape_configs.find((j) => j.job_name === name)!;
  const orchestration = () => l.machines[0];

  test("the component is rayswarm:monitoring:Monitoring with children under it", () => {
    const comp = run.resources.find((r) => r.type === "rayswarm:monitoring:Monitoring")!;
    expect(comp.name).toBe("monitoring");
    for (const c of run.ofType(CMD)) {
      expect(c.parent).toBe(comp.resource);
      expect(c.name.startsWith(`monitoring-`)).toBe(true);
    }
  });

  /** The target files a machine's target step writes: path -> parsed file_sd groups. */
  const targetFiles = async (machine: string) => {
    const step = run.byName(`monitoring-target-${keyOf(l, machine)}`);
    const program = (await text(step.props.stdin)).value;
    const out: Record<string, { targets: string[]; labels: Record<string, string> }[]> = {};
    for (const m of program.matchAll(/^printf '%s' '([^']*)' > (\S+)\.tmp /gm)) out[m[2]] = JSON.parse(m[1]);
    return out;
  };

  test("prometheus.yml names no machine: the node and ray jobs read per-machine file_sd target files", () => {
    expect(job("node").file_sd_configs).toEqual([{ files: ["/etc/prometheus/targets/node/*.json"], refresh_interval: "30s" }]);
    expect(job("ray").file_sd_configs).toEqual([{ files: ["/etc/prometheus/targets/ray/*.json"], refresh_interval: "30s" }]);
    expect(job("node").static_configs).toBeUndefined();
    for (const m of l.machines) expect(promText).not.toContain(m.name);
  });

  test("every machine has a node exporter target file named after it, and a node exporter step on its private address", async () => {
    for (const m of l.machines) {
      const files = await targetFiles(m.name);
      expect(files[`/etc/prometheus/targets/node/${m.name}.json`]).toEqual([
        { targets: [`${m.address}:9100`], labels: { instance: m.name, roles: m.role, production: String(m.role.startsWith("swarm-")) } },
      ]);
      const step = await text(run.byName(`monitoring-node-exporter-${keyOf(l, m.name)}`).props.create);
      expect(step.value).toContain(`node-exporter.sh ${m.address} 9100 1.5.0`);
      // The target step runs on the orchestration machine; its delete removes exactly its files.
      const target = run.byName(`monitoring-target-${keyOf(l, m.name)}`);
      expect(JSON.stringify((await unwrap(target.props.connection as never)).value)).toContain(`"host":"${orchestration().address}"`);
      expect(String(target.props.delete)).toContain(`rm -f ${Object.keys(files).join(" ")}`);
      expect(target.inputs?.triggers).toContain(`${orchestration().name}-id`);
    }
  });

  test("every Ray machine's metrics export is scraped; no Ray node count is generated (the target files are the count)", async () => {
    const ray = l.machines.filter((m) => m.role === "ray-head" || m.role === "ray-worker");
    for (const m of l.machines) {
      const file = (await targetFiles(m.name))[`/etc/prometheus/targets/ray/${m.name}.json`];
      if (ray.includes(m)) expect(file?.[0].targets).toEqual([`${m.address}:8090`]);
      else expect(file).toBeUndefined();
    }
    const stage = await text(run.byName(`monitoring-config`).props.stdin);
    // One port, three places: Ray's start line, the security group, the scrape target.
    // (RayCluster passes rayStartPortArgs to ray-head.sh/ray-worker.sh: tests/unit/ray-cluster.test.ts)
    for (const role of ["head", "worker"] as const)
      expect(rayStartPortArgs(role).join(" ")).toContain(`--metrics-export-port ${MONITORING_PORTS.ray} `);
    // ...and no script keeps a port of its own (they get them as arguments)
    expect(fs.readFileSync(path.join(ROOT, "scripts/host/common.sh"), "utf8")).not.toMatch(/--[a-z-]+-port \d/);
    expect(RAY_METRICS_PORT).toBe(MONITORING_PORTS.ray);
    expect(stage.value).not.toContain("expected_ray_nodes");
    // RayNodesMissing compares Ray's own count with the ray targets (one file per Ray machine).
    expect(fs.readFileSync(path.join(ROOT, "components/monitoring/rules/ray.yml"), "utf8")).toContain(
      'expr: (sum(ray_cluster_active_nodes{job="ray"}) or vector(0)) < count(up{job="ray"})',
    );
    expect(stage.value).toContain(`record: rayswarm:expected_worker_replicas\n        expr: vector(3)`);
  });

  test("the swarm is scraped through the relay: federation from the manager, Swarm DNS for every service inside", async () => {
    const manager = l.machines.find((m) => m.role === "swarm-manager")!;
    const relay = job("swarm-relay");
    expect(relay).toMatchObject({ honor_labels: true, metrics_path: "/federate" });
    expect(relay.static_configs![0].targets).toEqual([`${manager.address}:9091`]);
    expect(relay.params!["match[]"][0]).toBe('{job=~"api|worker|rabbitmq|rabbitmq-queues|redis"}');
    const inner = yaml.load((await text(run.outputs.relayConfig)).value) as { scrape_configs: Scrape[] };
    const names = Object.fromEntries(inner.scrape_configs.map((j) => [j.job_name, j.dns_sd_configs![0]]));
    expect(names).toEqual({
      api: { names: ["tasks.rayswarm_api"], type: "A", port: 8080, refresh_interval: "15s" },
      worker: { names: ["tasks.rayswarm_worker"], type: "A", port: 8080, refresh_interval: "15s" },
      rabbitmq: { names: ["tasks.rayswarm_rabbitmq"], type: "A", port: 15692, refresh_interval: "15s" },
      "rabbitmq-queues": { names: ["tasks.rayswarm_rabbitmq"], type: "A", port: 15692, refresh_interval: "15s" },
      redis: { names: ["tasks.rayswarm-monitoring_redis-exporter"], type: "A", port: 9121, refresh_interval: "15s" },
    });
    const queues = inner.scrape_configs.find((j) => j.job_name === "rabbitmq-queues")!;
    expect(queues.metrics_path).toBe("/metrics/detailed");
    expect(queues.params).toEqual({ family: ["queue_coarse_metrics", "queue_consumer_count"] });
  });

  test("the monitoring stack joins the serving overlay, pins the relay to the scraped manager, publishes only the relay port", async () => {
    const manager = l.machines.find((m) => m.role === "swarm-manager")!;
    const file = yaml.load((await text(run.outputs.stackFile)).value) as {
      services: Record<string, { ports?: { published: number; mode: string }[]; deploy: { placement?: { constraints: string[] } } }>;
      networks: Record<string, unknown>;
    };
    expect(Object.keys(file.services).sort()).toEqual(["redis-exporter", "relay"]);
    expect(file.networks).toEqual({ backend: { external: true, name: "rayswarm_backend" } });
    expect(file.services.relay.ports).toEqual([{ target: 9090, published: 9091, protocol: "tcp", mode: "host" }]);
    expect(file.services["redis-exporter"].ports).toBeUndefined();
    expect(file.services.relay.deploy.placement!.constraints).toEqual([`node.labels.rayswarm.host == ${manager.name}`]);
    const deploy = run.byName(`monitoring-stack-deploy`);
    expect(String((await text(deploy.props.create)).value)).toContain("stack-deploy.sh rayswarm-monitoring 300");
  });

  test("Prometheus and Alertmanager listen on the orchestration machine's private address; every target is private", async () => {
    const o = orchestration();
    const step = await text(run.byName(`monitoring-prometheus`).props.create);
    expect(step.value).toContain(`prometheus.sh ${o.address} 2.42.0 0.25.0 15d /opt/rayswarm/monitoring/config.d/`);
    expect(job("prometheus").static_configs![0].targets).toEqual([`${o.address}:9090`]);
    expect(prom.alerting).toEqual({ alertmanagers: [{ static_configs: [{ targets: [`${o.address}:9093`] }] }] });
    const targets = (await unwrap(run.outputs.targets as pulumi.Output<string[]>)).value!;
    expect(targets.length).toBe(2 + l.machines.length + l.machines.filter((m) => m.role.startsWith("ray")).length + 1);
    for (const t of targets) expect(t).toMatch(/^[a-z-]+ 10\.42\.0\.\d+:\d+$/);
    // No command binds anything to every address.
    for (const i of await allInputs(run)) if (i.key !== "stdin") expect(i.value).not.toMatch(/0\.0\.0\.0/);
  });

  test("the tunnel line is the bastion's ssh line (key, known_hosts kept) forwarding both ports and names the page", async () => {
    const o = orchestration();
    expect((await text(run.outputs.tunnel)).value).toBe(
      "ssh -i ~/.ssh/rayswarm-dev -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-dev.known_hosts " +
        `-N -L 9090:${o.address}:9090 -L 9093:${o.address}:9093 debian@198.51.100.7  # then open http://localhost:9090/consoles/rayswarm.html`,
    );
  });

  test("the webhook URL is only on the Prometheus step's stdin, as a secret; no generated file holds it", async () => {
    const am = (await text(run.outputs.alertmanagerConfig)).value;
    expect(am).toContain(`url: ${WEBHOOK_PLACEHOLDER}`);
    expect(am).not.toContain("hooks.example.com");
    expect(promText).not.toContain("hooks.example.com");
    for (const i of await allInputs(run)) {
      if (!i.value.includes("very-secret-token")) continue;
      expect({ name: i.name, key: i.key, secret: i.secret }).toEqual({
        name: `monitoring-prometheus`,
        key: "stdin",
        secret: true,
      });
    }
    const prometheus = await text(run.byName(`monitoring-prometheus`).props.stdin);
    expect(prometheus).toEqual({ value: `${WEBHOOK}\n`, secret: true });
  });

  test("the Redis password reaches the swarm only as a Docker secret from secret stdin", async () => {
    for (const i of await allInputs(run)) {
      if (!i.value.includes(REDIS_PASSWORD)) continue;
      expect({ name: i.name, key: i.key, secret: i.secret }).toEqual({
        name: `monitoring-redis-secret`,
        key: "stdin",
        secret: true,
      });
    }
    const stdin = await text(run.byName(`monitoring-redis-secret`).props.stdin);
    expect(JSON.parse(stdin.value)).toEqual({ "redis://rayswarm_redis:6379": REDIS_PASSWORD });
    const stack = (await text(run.outputs.stackFile)).value;
    expect(stack).not.toContain(REDIS_PASSWORD);
    expect(stack).toContain("-redis.password-file=/run/secrets/redis-passwords.json");
  });

  test("order: scripts after each host is ready; swarm side after the serving stack; a machine's target after Prometheus and its exporter", () => {
    const prometheus = run.byName(`monitoring-prometheus`);
    const before = new Set([...run.dependsOnTransitively(prometheus)].map((r) => r.name));
    for (const m of l.machines) {
      const target = new Set([...run.dependsOnTransitively(run.byName(`monitoring-target-${keyOf(l, m.name)}`))].map((r) => r.name));
      expect(target).toContain(`monitoring-node-exporter-${keyOf(l, m.name)}`);
      expect(target).toContain(`monitoring-prometheus`);
      expect(run.dependsOnTransitively(run.byName(`monitoring-scripts-${keyOf(l, m.name)}`))).toContain(run.byName(`${m.name}-ready`));
      // Prometheus itself waits for no other machine (adding one must not touch it).
      if (m !== orchestration()) expect(before).not.toContain(`monitoring-node-exporter-${keyOf(l, m.name)}`);
    }
    expect(before).toContain(`monitoring-node-exporter-${keyOf(l, orchestration().name)}`);
    expect(before).toContain(`monitoring-stack-deploy`);
    // Every machine has a delete step that stops what the monitoring started there.
    for (const m of l.machines) {
      const stop = run.byName(`monitoring-stop-${keyOf(l, m.name)}`);
      expect(stop.props.delete).toBe(
        'if [ "$(id -u)" = 0 ]; then bash /opt/rayswarm/monitoring/scripts/stop.sh; else sudo -n bash /opt/rayswarm/monitoring/scripts/stop.sh; fi',
      );
      expect(run.byName(`monitoring-node-exporter-${keyOf(l, m.name)}`).explicitDeps).toContain(stop.resource);
    }
    const deployDeps = new Set([...run.dependsOnTransitively(run.byName(`monitoring-stack-deploy`))].map((r) => r.name));
    expect(deployDeps).toContain(`${l.stack}-serving-ready`);
    // Production machines (and only they) report their live model version.
    const model = run.ofType(CMD).filter((c) => c.name.includes("-model-metric-"));
    expect(model.map((c) => c.name.replace(`monitoring-model-metric-`, "")).sort()).toEqual(
      l.machines
        .filter((m) => m.role.startsWith("swarm-"))
        .map((m) => keyOf(l, m.name))
        .sort(),
    );
  });
});

describe("Monitoring args", () => {
  const base = (): MonitoringArgs => {
    const hosts = DEV.machines.map((m) => ({
      name: m.name,
      key: m.name.slice("dev-".length),
      roles: [m.role],
      privateAddress: m.address,
      user: "debian",
      connection: { host: m.address },
      identity: `${m.name}-id`,
      ready: undefined as unknown as pulumi.Resource,
      sshCommand: "",
    }));
    return { stack: "dev", orchestration: hosts[0], hosts, bastion: { ssh: BASTION_SSH } };
  };
  test("good args pass", () => expect(monitoringArgsProblem(base())).toBeUndefined());
  test("a version that is not exact is refused, naming the arg", () =>
    expect(monitoringArgsProblem({ ...base(), versions: { prometheus: "2.42" } })).toMatch(
      /^args\.versions\.prometheus must be an exact version/,
    ));
  test("a bad retention is refused", () =>
    expect(monitoringArgsProblem({ ...base(), retention: "two weeks" })).toMatch(/^args\.retention must be a Prometheus duration/));
  test("an error ratio of 1 or more is refused", () =>
    expect(monitoringArgsProblem({ ...base(), thresholds: { errorRatio: 5 } })).toMatch(/errorRatio is a share/));
  test("the orchestration machine must have its role and be among the hosts", () => {
    const b = base();
    expect(monitoringArgsProblem({ ...b, orchestration: b.hosts[1] })).toMatch(/must have the orchestration role/);
    expect(monitoringArgsProblem({ ...b, hosts: b.hosts.slice(1) })).toMatch(/args\.hosts must include/);
  });
});

describe("without a webhook and without serving", () => {
  test("alertmanager.yml has no receiver config, no swarm side, stdin carries no URL", async () => {
    const run = await runProgram("dev", {}, programFor(DEV, { webhookUrl: undefined, serving: undefined }));
    const am = yaml.load((await text(run.outputs.alertmanagerConfig)).value) as { receivers: unknown[] };
    expect(am.receivers).toEqual([{ name: "default" }]);
    expect(run.resources.some((r) => r.name.includes("stack-deploy") || r.name.includes("model-metric"))).toBe(false);
    const prom = yaml.load((await text(run.outputs.prometheusConfig)).value) as { scrape_configs: Scrape[] };
    expect(prom.scrape_configs.map((j) => j.job_name)).toEqual(["prometheus", "alertmanager", "node", "ray"]);
  });
});

describe("without Ray metrics (no ray[default] on the Ray machines)", () => {
  test("no ray job and no ray target files, so RayNodesMissing (which counts the ray targets) stays quiet", async () => {
    const run = await runProgram("dev", {}, programFor(DEV, { rayMetrics: false }));
    const prom = yaml.load((await text(run.outputs.prometheusConfig)).value) as { scrape_configs: Scrape[] };
    expect(prom.scrape_configs.map((j) => j.job_name)).toEqual(["prometheus", "alertmanager", "node", "swarm-relay"]);
    const stage = await text(run.byName("monitoring-config").props.stdin);
    expect(stage.value).not.toContain("expected_ray_nodes");
    const head = await text(run.byName("monitoring-target-ray-head").props.stdin);
    expect(head.value).toContain("/etc/prometheus/targets/node/dev-ray-head.json");
    expect(head.value).not.toContain("/targets/ray/");
  });
});

describe("scale-out", () => {
  test("a new Ray worker adds its own steps (its node and ray target files among them) and changes no existing one", async () => {
    const inputs = async (l: Layout) =>
      Object.fromEntries((await runProgram("dev", {}, programFor(l))).ofType(CMD).map((r) => [r.name, JSON.stringify(r.inputs)]));
    const before = await inputs(DEV);
    const bigger: Layout = {
      stack: "dev",
      machines: [...DEV.machines, { name: "dev-ray-worker-1", role: "ray-worker", address: "10.42.0.98" }],
    };
    const after = await inputs(bigger);
    expect(Object.keys(before).filter((k) => before[k] !== after[k])).toEqual([]);
    expect(
      Object.keys(after)
        .filter((k) => !(k in before))
        .sort(),
    ).toEqual(["node-exporter", "scripts", "stop", "target"].map((s) => `monitoring-${s}-ray-worker-1`));
    const target = after["monitoring-target-ray-worker-1"];
    expect(target).toContain("/etc/prometheus/targets/ray/dev-ray-worker-1.json");
    expect(target).toContain("10.42.0.98:8090");
  });

  test("a new swarm worker adds its own steps (scripts, exporter, model metric, target file) and changes no existing one", async () => {
    const inputs = async (l: Layout) =>
      Object.fromEntries(
        (await runProgram("dev", {}, programFor(l, { rayMetrics: false }))).ofType(CMD).map((r) => [r.name, JSON.stringify(r.inputs)]),
      );
    const before = await inputs(DEV);
    const bigger: Layout = {
      stack: "dev",
      machines: [...DEV.machines, { name: "dev-swarm-worker-1", role: "swarm-worker", address: "10.42.0.99" }],
    };
    const after = await inputs(bigger);
    expect(Object.keys(before).filter((k) => before[k] !== after[k])).toEqual([]);
    expect(
      Object.keys(after)
        .filter((k) => !(k in before))
        .sort(),
    ).toEqual(["model-metric", "node-exporter", "scripts", "stop", "target"].map((s) => `monitoring-${s}-swarm-worker-1`));
  });
});

describe("the monitoring's files are what git tracks (like the bundle)", () => {
  test("an untracked or ignored file and the checkout's path change no hash; a tracked edit does", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-monfiles-"));
    const hashes = (root: string) => [hashFiles(readMonitoringScripts(root)), hashFiles(readRulesAndConsoles(root))];
    try {
      for (const sub of ["scripts/host", "scripts/monitoring", "components/monitoring/rules", "components/monitoring/consoles"])
        fs.cpSync(path.join(ROOT, sub), path.join(dir, sub), { recursive: true });
      fs.writeFileSync(path.join(dir, ".gitignore"), "*.log.sh\n");
      execFileSync("git", ["init", "-q", dir]);
      execFileSync("git", ["-C", dir, "add", "-A"]);
      const h0 = hashes(dir);
      expect(h0).toEqual(hashes(ROOT));
      fs.writeFileSync(path.join(dir, "scripts/monitoring/scratch.sh"), "#!/usr/bin/env bash\n");
      fs.writeFileSync(path.join(dir, "scripts/monitoring/debug.log.sh"), "ignored\n");
      fs.writeFileSync(path.join(dir, "components/monitoring/rules/local-only.yml"), "groups: []\n");
      fs.writeFileSync(path.join(dir, "components/monitoring/consoles/draft.html"), "<p>draft</p>\n");
      expect(hashes(dir)).toEqual(h0);
      expect(readMonitoringScripts(dir).map((f) => f.path)).not.toContain("scratch.sh");
      const moved = `${dir}-moved`;
      fs.renameSync(dir, moved);
      expect(hashes(moved)).toEqual(h0);
      fs.renameSync(moved, dir);
      fs.appendFileSync(path.join(dir, "scripts/monitoring/node-exporter.sh"), "\n# edit\n");
      fs.appendFileSync(path.join(dir, "components/monitoring/rules/ray.yml"), "\n# edit\n");
      const h1 = hashes(dir);
      expect(h1[0]).not.toBe(h0[0]);
      expect(h1[1]).not.toBe(h0[1]);
      // rules/tests (promtool fixtures) never go to the machine.
      expect(readRulesAndConsoles(dir).some((f) => f.path.includes("tests/"))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("rules and the workloads they watch", () => {
  const rulesDir = path.join(ROOT, "components/monitoring/rules");
  const rules = fs
    .readdirSync(rulesDir)
    .filter((f) => f.endsWith(".yml"))
    .map((f) => fs.readFileSync(path.join(rulesDir, f), "utf8"))
    .join("\n");

  // Every serving_* metric the rules use is registered by the service: checked against its real
  // registry (prom-client) in workloads/serving/test/unit.test.ts, not by reading its source here.

  test("the rules watch the queue the serving stack uses", () => {
    const file = buildStackFile({
      images: { serving: "s", rabbitmq: "r", redis: "d" },
      apiReplicas: 1,
      workerReplicas: 1,
      port: 8080,
      endpointMode: "vip",
      publishMode: "ingress",
      modelRoot: "/m",
      encryptOverlay: true,
      stateNode: "n",
      secretNames: { amqpPassword: "a", rabbitmqConf: "b", redisPassword: "c", redisConf: "d" },
    });
    expect(file.services.worker.environment!.QUEUE_NAME).toBe(PREDICTION_QUEUE);
    expect(rules).toContain(`queue="${PREDICTION_QUEUE}"`);
  });

  test("the promtool fixture equals the generator's expectations for the test topology", () => {
    const fixture = yaml.load(fs.readFileSync(path.join(rulesDir, "tests/expectations.yml"), "utf8"));
    expect(fixture).toEqual(
      expectationRules({
        stack: "dev",
        workerReplicas: 2,
        apiReplicas: 2,
        queueDepth: 1000,
        queueWaitSeconds: 60,
        p99Seconds: 0.05,
        errorRatio: 0.05,
      }),
    );
  });

  test("every script is strict bash and reports changed= (except the loop, which is a service)", () => {
    const dir = path.join(ROOT, "scripts/monitoring");
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".sh") && x !== "lib.sh")) {
      const s = fs.readFileSync(path.join(dir, f), "utf8");
      expect(s).toMatch(/^#!\/usr\/bin\/env bash\n/);
      expect(s).toContain("set -euo pipefail");
      if (f !== "model-metric-loop.sh") expect(s).toMatch(/\nfinish\n$/);
    }
  });
});
