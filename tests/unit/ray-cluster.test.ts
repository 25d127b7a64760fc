/** RayCluster on fake Hosts (tests/unit/support/hosts.ts): one component, its steps, their order and triggers. */
import { RayCluster } from "../../components/ray";
import { RAY_PORTS } from "../../components/core/ports";
import { readBundle } from "../../components/remote";
import type { Host } from "../../components/host";
import { RunResult } from "./support/harness";
import {
  componentError,
  fakeHost,
  fakeHosts,
  fakeScripts,
  input,
  runComponent,
  stepsMatching,
  triggersOf,
  waitsFor,
} from "./support/hosts";

/** The initial job's budget (required args, from the config's tuningTrials and tuningTimeBudget). */
const TUNING = { tuningTrials: 12, tuningTimeBudget: 300 };
const RAY_VERSION = /^ray(\[[^\]]*\])?==([^\s;]+)/m.exec(readBundle().find((f) => f.path === "tuning/requirements.txt")!.content)![2];

describe("a head and three workers", () => {
  let run: RunResult;
  let head: Host;
  let workers: Host[];
  beforeAll(async () => {
    run = await runComponent(() => {
      head = fakeHost("head", ["ray-head"], { address: "10.0.1.1" });
      workers = fakeHosts("w", "ray-worker", 3);
      const ray = new RayCluster("ray", { head, workers, rayVersion: RAY_VERSION, scripts: fakeScripts([head, ...workers]), ...TUNING });
      return { address: ray.address, nodes: ray.nodeCount, version: ray.initialModel!.version };
    });
  });

  test("installs Ray on every node in parallel, each after its bundle and its stop step", () => {
    const installs = stepsMatching(run, /^ray-install-/);
    expect(installs).toEqual(["ray-install-head", "ray-install-w-0", "ray-install-w-1", "ray-install-w-2"]);
    for (const a of installs) {
      const host = a.slice("ray-install-".length);
      expect(waitsFor(run, a, `${host}-scripts`)).toBe(true);
      expect(waitsFor(run, a, `ray-stop-${host}`)).toBe(true);
      for (const b of installs.filter((x) => x !== a)) expect({ a, b, chained: waitsFor(run, a, b) }).toEqual({ a, b, chained: false });
    }
  });

  test("orders the head before every worker, and the workers side by side", () => {
    const joins = stepsMatching(run, /^ray-worker-/);
    expect(joins).toEqual(["ray-worker-w-0", "ray-worker-w-1", "ray-worker-w-2"]);
    for (const j of joins) {
      expect(waitsFor(run, j, "ray-head")).toBe(true);
      expect(waitsFor(run, j, `ray-install-${j.slice("ray-worker-".length)}`)).toBe(true);
      for (const k of joins.filter((x) => x !== j)) expect(waitsFor(run, j, k)).toBe(false);
    }
    expect(waitsFor(run, "ray-head", "ray-worker-w-0")).toBe(false);
  });

  test("waits for all nodes after the head and every worker, and tunes once after that", async () => {
    for (const s of ["ray-head", "ray-worker-w-0", "ray-worker-w-1", "ray-worker-w-2"]) expect(waitsFor(run, "ray-wait", s)).toBe(true);
    expect(waitsFor(run, "ray-initial-tuning", "ray-wait")).toBe(true);
    expect(String((await input(run, "ray-wait", "create")).value)).toContain(`ray-wait.sh 10.0.1.1:${RAY_PORTS.gcs} 4 600`);
    expect(run.byName("ray-wait").ignoreChanges).toEqual(["create"]);
    expect(String((await input(run, "ray-initial-tuning", "create")).value)).toContain(
      `tune-initial.sh 10.0.1.1:${RAY_PORTS.gcs} /var/lib/rayswarm/tuning/initial 12 300`,
    );
  });

  test("the command lines: the head binds its private address and ports, a worker joins the head's GCS", async () => {
    expect(String((await input(run, "ray-head", "create")).value)).toContain(
      `bash /opt/rayswarm/current/host/ray-head.sh 10.0.1.1 ${RAY_PORTS.gcs} ${RAY_PORTS.dashboard} ` +
        `--ray-client-server-port ${RAY_PORTS.client} --node-manager-port ${RAY_PORTS.nodeManager} ` +
        `--object-manager-port ${RAY_PORTS.objectManager} --min-worker-port 10002 --max-worker-port 10999 ` +
        `--metrics-export-port 8090 --dashboard-agent-listen-port ${RAY_PORTS.dashboardAgent} ` +
        `--dashboard-agent-grpc-port ${RAY_PORTS.dashboardAgentGrpc} --runtime-env-agent-port ${RAY_PORTS.runtimeEnvAgent}`,
    );
    const w0 = workers[0].privateAddress as string;
    const worker = String((await input(run, "ray-worker-w-0", "create")).value);
    expect(worker).toContain(`host/ray-worker.sh 10.0.1.1:${RAY_PORTS.gcs} ${w0} --node-manager-port ${RAY_PORTS.nodeManager} `);
    expect(worker).toContain(`--runtime-env-agent-port ${RAY_PORTS.runtimeEnvAgent}`);
    expect(worker).not.toContain("--ray-client-server-port"); // the head's only
    expect(String((await input(run, "ray-install-w-0", "create")).value)).toContain(
      `host/ray-install.sh ${RAY_VERSION} /opt/rayswarm/current/tuning/requirements.txt`,
    );
  });

  test("triggers: each step's machine first; a worker re-joins when the head is replaced; the tuning job runs once", async () => {
    const [ident, headIdent, , , version, address] = await triggersOf(run, "ray-worker-w-1");
    expect([ident, headIdent, version, address]).toEqual(["w-1-id", "head-id", RAY_VERSION, workers[1].privateAddress]);
    expect((await triggersOf(run, "ray-head"))[0]).toBe("head-id");
    expect(await triggersOf(run, "ray-initial-tuning")).toEqual(["head-id", "/var/lib/rayswarm/tuning/initial"]);
    // the install's hash (script + requirements) is in the head's and every worker's triggers: a new requirement restarts Ray
    const install = (await triggersOf(run, "ray-install-head"))[1];
    expect((await triggersOf(run, "ray-head"))[2]).toBe(install);
    expect((await triggersOf(run, "ray-worker-w-2"))[3]).toBe(install);
  });

  test("undo steps: each node's stop runs ray-stop.sh on delete and carries no trigger", async () => {
    for (const h of ["head", "w-0", "w-1", "w-2"]) {
      expect(String((await input(run, `ray-stop-${h}`, "delete")).value)).toContain("host/ray-stop.sh");
      expect((await input(run, `ray-stop-${h}`, "triggers")).value).toBeUndefined();
    }
  });

  test("outputs: the GCS address, every node counted, the initial model's version", async () => {
    const { unwrap } = await import("./support/harness");
    expect((await unwrap(run.outputs.address as never)).value).toBe(`10.0.1.1:${RAY_PORTS.gcs}`);
    expect((await unwrap(run.outputs.nodes as never)).value).toBe(4);
    expect((await unwrap(run.outputs.version as never)).value).toBe("20261129T000000Z-mock0001");
  });
});

describe("args", () => {
  test("no workers: the head alone, the wait expects one node", async () => {
    const run = await runComponent(() => {
      const head = fakeHost("head", ["ray-head"]);
      new RayCluster("ray", { head, workers: [], rayVersion: RAY_VERSION, scripts: fakeScripts([head]), initialTuning: false, ...TUNING });
    });
    expect(stepsMatching(run, /^ray-worker-/)).toEqual([]);
    expect(String((await input(run, "ray-wait", "create")).value)).toMatch(/ray-wait\.sh \S+ 1 600/);
    expect(stepsMatching(run, /initial-tuning/)).toEqual([]);
  });

  test.each([
    ["a version that is not exact", "2.x", /args\.rayVersion must be an exact version/],
    ["a version the requirements do not pin", "1.0.0", /pins ray==.*set rayswarm:rayVersion/],
  ])("%s (%s) is refused naming the arg", async (_label, rayVersion, message) => {
    const error = await componentError(() => {
      const head = fakeHost("head", ["ray-head"]);
      new RayCluster("ray", { head, workers: [], rayVersion, scripts: fakeScripts([head]), ...TUNING });
    });
    expect(error?.message).toMatch(message);
  });

  test("a node without the scripts installed is refused, naming it", async () => {
    const error = await componentError(() => {
      const head = fakeHost("head", ["ray-head"]);
      const w = fakeHost("lonely", ["ray-worker"]);
      new RayCluster("ray", { head, workers: [w], rayVersion: RAY_VERSION, scripts: fakeScripts([head]), ...TUNING });
    });
    expect(error?.message).toMatch(/RayCluster ray: the scripts are not installed on host lonely/);
  });
});
