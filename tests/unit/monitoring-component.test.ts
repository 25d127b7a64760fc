/** Monitoring on fake Hosts (tests/unit/support/hosts.ts): its own scripts, exporters, the swarm relay, targets. */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { Monitoring, MonitoringArgs, MONITORING_PORTS } from "../../components/monitoring";
import type { Host } from "../../components/host";
import { RunResult, unwrap } from "./support/harness";
import { componentError, fakeHost, input, runComponent, stepsMatching, triggersOf, waitsFor } from "./support/hosts";

function machines(): { orch: Host; head: Host; mgr: Host; worker: Host; all: Host[] } {
  const orch = fakeHost("orch", ["orchestration"], { address: "10.0.5.1" });
  const head = fakeHost("head", ["ray-head"], { address: "10.0.5.2" });
  const mgr = fakeHost("mgr", ["swarm-manager"], { address: "10.0.5.3" });
  const worker = fakeHost("sw", ["swarm-worker"], { address: "10.0.5.4" });
  return { orch, head, mgr, worker, all: [orch, head, mgr, worker] };
}

function args(m: ReturnType<typeof machines>, over: Partial<MonitoringArgs> = {}): MonitoringArgs {
  return {
    stack: "t",
    orchestration: m.orch,
    hosts: m.all,
    bastion: { ssh: "ssh root@203.0.113.9" },
    serving: {
      manager: m.mgr,
      ready: new command.local.Command("serving-ready", { create: "true" }),
      redisPassword: pulumi.secret("redis-pw"),
      image: "sha256:" + "c".repeat(64),
      publishMode: "host",
      endpointMode: "dnsrr",
      apiReplicas: 2,
      workerReplicas: 2,
      modelRoot: "/srv/models",
    },
    ...over,
  };
}

describe("four machines with the serving stack", () => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runComponent(() => {
      const mon = new Monitoring("mon", args(machines(), { webhookUrl: pulumi.secret("https://hooks.example/x") }));
      return { tunnel: mon.tunnel, targets: mon.targets };
    });
  });

  test("its scripts on every machine (after the machine is ready), then a stop step and the node exporter on the private address", async () => {
    for (const [h, addr] of [
      ["orch", "10.0.5.1"],
      ["head", "10.0.5.2"],
      ["mgr", "10.0.5.3"],
      ["sw", "10.0.5.4"],
    ]) {
      expect(waitsFor(run, `mon-scripts-${h}`, `${h}-ready`)).toBe(true);
      expect(waitsFor(run, `mon-node-exporter-${h}`, `mon-stop-${h}`)).toBe(true);
      expect(waitsFor(run, `mon-stop-${h}`, `mon-scripts-${h}`)).toBe(true);
      expect(String((await input(run, `mon-stop-${h}`, "delete")).value)).toContain("bash /opt/rayswarm/monitoring/scripts/stop.sh");
      expect(String((await input(run, `mon-node-exporter-${h}`, "create")).value)).toContain(
        `monitoring/scripts/node-exporter.sh ${addr} ${MONITORING_PORTS.nodeExporter} 1.5.0`,
      );
      // the scripts' one hash follows the machine's identity: an edit re-runs the steps that use them
      const [id, hash] = await triggersOf(run, `mon-node-exporter-${h}`);
      expect(id).toBe(`${h}-id`);
      expect((await triggersOf(run, `mon-scripts-${h}`))[1]).toBe(hash);
    }
    // the model metric on production machines only
    expect(stepsMatching(run, /model-metric/)).toEqual(["mon-model-metric-mgr", "mon-model-metric-sw"]);
    const scripts = stepsMatching(run, /^mon-scripts-/);
    for (const a of scripts) for (const b of scripts.filter((x) => x !== a)) expect(waitsFor(run, a, b)).toBe(false);
  });

  test("the swarm side, on the manager after the serving stack: relay config, the Redis exporter's secret, the stack", async () => {
    for (const s of ["mon-relay-config", "mon-redis-secret"]) {
      expect(waitsFor(run, s, "serving-ready")).toBe(true);
      expect(await triggersOf(run, s)).toEqual(["mgr-id"]);
    }
    const secret = await input(run, "mon-redis-secret", "stdin");
    expect(secret.secret).toBe(true);
    expect(String(secret.value)).toContain("redis-pw");
    expect(String((await input(run, "mon-redis-secret", "create")).value)).not.toContain("redis-pw");
    expect(waitsFor(run, "mon-stack-rm", "mon-redis-secret")).toBe(true);
    expect(waitsFor(run, "mon-stack-deploy", "mon-stack-rm")).toBe(true);
    expect(String((await input(run, "mon-stack-rm", "delete")).value)).toContain("stack-rm.sh rayswarm-monitoring");
    expect(String((await input(run, "mon-stack-deploy", "create")).value)).toContain("stack-deploy.sh rayswarm-monitoring 300");
  });

  test("Prometheus on the orchestration machine after its staged config, its exporter and the relay; the webhook only on stdin, secret", async () => {
    for (const dep of ["mon-config", "mon-node-exporter-orch", "mon-stack-deploy"]) expect(waitsFor(run, "mon-prometheus", dep)).toBe(true);
    const stdin = await input(run, "mon-prometheus", "stdin");
    expect(stdin).toEqual({ value: "https://hooks.example/x\n", secret: true });
    expect(String((await input(run, "mon-prometheus", "create")).value)).not.toContain("hooks.example");
    expect(String((await input(run, "mon-prometheus", "create")).value)).toMatch(
      /prometheus\.sh 10\.0\.5\.1 2\.42\.0 0\.25\.0 15d \/opt\/rayswarm\/monitoring\/config\.d\/[0-9a-f]{16}/,
    );
    expect((await input(run, "mon-prometheus", "triggers")).secret).toBe(true);
  });

  test("one target step per machine on the orchestration machine, after Prometheus and that machine's exporter", async () => {
    for (const h of ["orch", "head", "mgr", "sw"]) {
      const t = `mon-target-${h}`;
      expect(waitsFor(run, t, "mon-prometheus")).toBe(true);
      expect(waitsFor(run, t, `mon-node-exporter-${h}`)).toBe(true);
      expect(((await input(run, t, "connection")).value as { host: string }).host).toBe("10.0.5.1");
      expect(String((await input(run, t, "delete")).value)).toContain(`rm -f /etc/prometheus/targets/node/${h}.json`);
      expect(run.byName(t).opts.deleteBeforeReplace).toBe(true);
    }
    const targets = (await unwrap(run.outputs.targets as never)).value as unknown as string[];
    expect(targets).toContain(`node 10.0.5.4:${MONITORING_PORTS.nodeExporter}`);
    expect(targets).toContain(`ray 10.0.5.2:${MONITORING_PORTS.ray}`);
  });
});

test("without the serving stack: machines and Ray only, no swarm-side step", async () => {
  const run = await runComponent(() => {
    new Monitoring("mon", args(machines(), { serving: undefined }));
  });
  expect(stepsMatching(run, /relay|redis-secret|stack-|model-metric/)).toEqual([]);
  expect((await input(run, "mon-prometheus", "stdin")).value).toBe("\n");
});

describe("args", () => {
  test.each([
    [
      "an orchestration machine without the role",
      (m: ReturnType<typeof machines>) => args(m, { orchestration: m.head }),
      /must have the orchestration role/,
    ],
    [
      "a retention that is no duration",
      (m: ReturnType<typeof machines>) => args(m, { retention: "two weeks" }),
      /args\.retention must be a Prometheus duration/,
    ],
    ["a host listed twice", (m: ReturnType<typeof machines>) => args(m, { hosts: [...m.all, m.head] }), /a host is listed twice/],
  ])("%s is refused", async (_label, make, message) => {
    const error = await componentError(() => {
      new Monitoring("mon", make(machines()));
    });
    expect(error?.message).toMatch(message);
  });
});
