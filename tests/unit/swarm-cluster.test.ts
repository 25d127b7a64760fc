/** SwarmCluster on fake Hosts (tests/unit/support/hosts.ts): init, tokens as secrets, parallel joins, leave/drain on delete. */
import { SwarmCluster } from "../../components/swarm";
import { SWARM_PORTS } from "../../components/core/ports";
import type { Host } from "../../components/host";
import { RunResult, unwrap } from "./support/harness";
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

const N = 4;

describe(`three managers and ${N} workers`, () => {
  let run: RunResult;
  let managers: Host[];
  let workers: Host[];
  beforeAll(async () => {
    run = await runComponent(() => {
      managers = [
        fakeHost("m-0", ["swarm-manager"], { address: "10.0.2.1" }),
        fakeHost("m-1", ["swarm-manager"]),
        fakeHost("m-2", ["swarm-manager"]),
      ];
      workers = fakeHosts("w", "swarm-worker", N);
      const swarm = new SwarmCluster("swarm", { managers, workers, scripts: fakeScripts([...managers, ...workers]) });
      return { workerToken: swarm.workerToken, managerToken: swarm.managerToken, managerAddress: swarm.managerAddress };
    });
  });

  test("the first manager creates the swarm after Docker; every other node joins after the tokens are read", async () => {
    expect(String((await input(run, "swarm-init", "create")).value)).toMatch(
      new RegExp(`host/swarm-init\\.sh 10\\.0\\.2\\.1 ${SWARM_PORTS.management};`),
    );
    expect(waitsFor(run, "swarm-init", "swarm-docker-m-0")).toBe(true);
    expect(waitsFor(run, "swarm-tokens", "swarm-init")).toBe(true);
    const joins = stepsMatching(run, /^swarm-join-/);
    expect(joins).toEqual(["swarm-join-m-1", "swarm-join-m-2", ...workers.map((w) => `swarm-join-${w.name}`)]);
    for (const j of joins) expect(waitsFor(run, j, "swarm-tokens")).toBe(true);
  });

  test(`joins the ${N} workers (and the other managers) in parallel: no join waits for another`, () => {
    const joins = stepsMatching(run, /^swarm-join-/);
    for (const a of joins)
      for (const b of joins.filter((x) => x !== a)) expect({ a, b, chained: waitsFor(run, a, b) }).toEqual({ a, b, chained: false });
    const dockers = stepsMatching(run, /^swarm-docker-/);
    expect(dockers.length).toBe(3 + N);
    for (const a of dockers) for (const b of dockers.filter((x) => x !== a)) expect(waitsFor(run, a, b)).toBe(false);
  });

  test("a worker joins the first manager's address with the worker token on stdin, a manager with the manager token; both secret", async () => {
    const create = String((await input(run, "swarm-join-w-2", "create")).value);
    expect(create).toContain(
      `host/swarm-join.sh 10.0.2.1:${SWARM_PORTS.management} ${workers[2].privateAddress} ${SWARM_PORTS.management}`,
    );
    const stdin = await input(run, "swarm-join-w-2", "stdin");
    expect(stdin).toEqual({ value: "SWMTKN-1-mockworker\n", secret: true });
    expect(create).not.toContain("SWMTKN");
    expect(await input(run, "swarm-join-m-1", "stdin")).toEqual({ value: "SWMTKN-1-mockmanager\n", secret: true });
    expect(run.byName("swarm-join-w-2").opts.additionalSecretOutputs).toContain("stdin");
    expect(run.byName("swarm-tokens").opts.additionalSecretOutputs).toContain("stdout");
    expect((await input(run, "swarm-tokens", "logging")).value).toBe("none");
    expect((await unwrap(run.outputs.workerToken as never)).secret).toBe(true);
    expect((await unwrap(run.outputs.managerToken as never)).secret).toBe(true);
  });

  test("on delete a node leaves, then the first manager drains and removes it: join -> leave -> slot, torn down in reverse", async () => {
    for (const w of workers) {
      const [slot, leave, join] = [`swarm-slot-${w.name}`, `swarm-leave-${w.name}`, `swarm-join-${w.name}`];
      expect(waitsFor(run, join, leave)).toBe(true);
      expect(waitsFor(run, leave, slot)).toBe(true);
      expect(String((await input(run, leave, "delete")).value)).toContain("host/swarm-leave.sh");
      expect(String((await input(run, slot, "delete")).value)).toContain(`host/swarm-node-rm.sh ${w.name}`);
      // the slot runs on the first manager, the leave on the node itself
      expect(((await input(run, slot, "connection")).value as { host: string }).host).toBe("10.0.2.1");
      expect(((await input(run, leave, "connection")).value as { host: string }).host).toBe(workers.find((x) => x === w)!.privateAddress);
      // undo steps carry no trigger: a script edit never replaces (and so runs) them
      expect((await input(run, leave, "triggers")).value).toBeUndefined();
    }
    expect(String((await input(run, "swarm-leave-m-0", "delete")).value)).toContain("host/swarm-leave.sh");
    expect(waitsFor(run, "swarm-init", "swarm-leave-m-0")).toBe(true);
  });

  test("every node is labelled from the first manager after it joined; the ready check waits for all labels", async () => {
    const labels = stepsMatching(run, /^swarm-label-/);
    expect(labels.length).toBe(3 + N);
    for (const w of workers) expect(waitsFor(run, `swarm-label-${w.name}`, `swarm-join-${w.name}`)).toBe(true);
    for (const l of labels) expect(waitsFor(run, "swarm-nodes", l)).toBe(true);
    expect(String((await input(run, "swarm-label-w-0", "create")).value)).toContain(
      "host/swarm-label.sh w-0 rayswarm.host=w-0 rayswarm.role=worker",
    );
    // the node's identity leads, then the first manager's: either replaced re-labels it
    const t = await triggersOf(run, "swarm-label-w-0");
    expect(t.slice(0, 2)).toEqual(["w-0-id", "m-0-id"]);
    expect(t.slice(3)).toEqual(["rayswarm.host=w-0", "rayswarm.role=worker"]);
    expect((await triggersOf(run, "swarm-join-w-0")).slice(0, 2)).toEqual(["w-0-id", "m-0-id"]);
  });
});

describe("args", () => {
  test.each([0, 2])("%i managers are refused (Raft quorum needs an odd number)", async (n) => {
    const error = await componentError(() => {
      const managers = fakeHosts("m", "swarm-manager", n);
      new SwarmCluster("swarm", { managers, workers: [], scripts: fakeScripts(managers) });
    });
    expect(error?.message).toMatch(`SwarmCluster swarm: args.managers must be an odd number >= 1 (got ${n})`);
  });

  test("a host listed twice, or one without the scripts, is refused", async () => {
    const twice = await componentError(() => {
      const m = fakeHost("m", ["swarm-manager"]);
      new SwarmCluster("swarm", { managers: [m], workers: [m], scripts: fakeScripts([m]) });
    });
    expect(twice?.message).toMatch(/a host is listed twice \(m, m\)/);
    const missing = await componentError(() => {
      const m = fakeHost("m", ["swarm-manager"]);
      new SwarmCluster("swarm", { managers: [m], workers: [fakeHost("w", ["swarm-worker"])], scripts: fakeScripts([m]) });
    });
    expect(missing?.message).toMatch(/SwarmCluster swarm: the scripts are not installed on host w/);
  });
});
