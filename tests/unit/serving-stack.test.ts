/** ServingStack on fake Hosts (tests/unit/support/hosts.ts): secrets, images, the deploy and its undo. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as command from "@pulumi/command";
import * as yaml from "js-yaml";
import { ServingStack, ServingStackArgs } from "../../components/serving";
import type { Host } from "../../components/host";
import { RunResult, unwrap, writeImageTarball } from "./support/harness";
import { componentError, fakeHost, fakeScripts, input, runComponent, stepsMatching, triggersOf, waitsFor } from "./support/hosts";

const tarDir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-serving-stack-"));
const TARBALL = writeImageTarball(path.join(tarDir, "rayswarm_serving_dev.tar"), "rayswarm/serving:dev");
afterAll(() => fs.rmSync(tarDir, { recursive: true, force: true }));

function args(manager: Host, nodes: Host[], over: Partial<ServingStackArgs> = {}, installedOn: Host[] = nodes): ServingStackArgs {
  return {
    manager,
    nodes,
    swarmReady: new command.local.Command("swarm-ready", { create: "true" }),
    scripts: fakeScripts(installedOn),
    images: { serving: "rayswarm/serving:dev", rabbitmq: "rabbitmq@sha256:" + "a".repeat(64), redis: "redis@sha256:" + "b".repeat(64) },
    apiReplicas: 2,
    workerReplicas: 3,
    port: 8080,
    endpointMode: "dnsrr",
    publishMode: "host",
    modelRoot: "/srv/models",
    encryptOverlay: true,
    imageTarballs: [TARBALL],
    ...over,
  };
}

describe("a manager and two workers", () => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runComponent(() => {
      const manager = fakeHost("mgr", ["swarm-manager"], { address: "10.0.3.1" });
      const nodes = [manager, fakeHost("w-0", ["swarm-worker"]), fakeHost("w-1", ["swarm-worker"])];
      const s = new ServingStack("serving", args(manager, nodes));
      return { url: s.url, stackFile: s.stackFile, rabbit: s.rabbitmqPassword };
    });
  });

  test("four Docker secrets made on the manager from stdin, secret, their values in no command line, after the swarm is ready", async () => {
    const secrets = stepsMatching(run, /^serving-secret-/);
    expect(secrets).toEqual([
      "serving-secret-amqpPassword",
      "serving-secret-rabbitmqConf",
      "serving-secret-redisConf",
      "serving-secret-redisPassword",
    ]);
    for (const s of secrets) {
      const stdin = await input(run, s, "stdin");
      expect(stdin.secret).toBe(true);
      expect(String(stdin.value)).toContain("mock-password-serving-");
      const create = String((await input(run, s, "create")).value);
      expect(create).toMatch(/host\/swarm-secret\.sh create rayswarm_\w+_[0-9a-f]{10}/);
      expect(create).not.toContain("mock-password");
      expect(String((await input(run, s, "delete")).value)).toMatch(/host\/swarm-secret\.sh remove rayswarm_\w+_[0-9a-f]{10}/);
      // only a new manager makes a secret again: no script hash, no value
      expect(await triggersOf(run, s)).toEqual(["mgr-id"]);
      expect(waitsFor(run, s, "swarm-ready")).toBe(true);
      expect(((await input(run, s, "connection")).value as { host: string }).host).toBe("10.0.3.1");
    }
  });

  test("every node gets the model folder and the image (copied, then loaded after the swarm is ready); in parallel", async () => {
    for (const n of ["mgr", "w-0", "w-1"]) {
      expect(String((await input(run, `serving-models-${n}`, "create")).value)).toContain("host/model-root.sh /srv/models");
      const copy = `serving-image-${n}-rayswarm_serving_dev.tar`;
      const load = `serving-load-${n}-rayswarm_serving_dev.tar`;
      expect((await input(run, copy, "remotePath")).value).toBe("/var/tmp/rayswarm-image-rayswarm_serving_dev.tar");
      expect(waitsFor(run, load, copy)).toBe(true);
      expect(waitsFor(run, load, "swarm-ready")).toBe(true);
      expect(String((await input(run, load, "create")).value)).toContain(
        "host/image-load.sh /var/tmp/rayswarm-image-rayswarm_serving_dev.tar",
      );
      // the tarball's content hash re-copies and re-loads a rebuilt image
      expect((await triggersOf(run, copy))[0]).toBe(`${n}-id`);
      expect((await triggersOf(run, copy))[1]).toMatch(/^[0-9a-f]{64}$/);
      expect((await triggersOf(run, load))[2]).toBe((await triggersOf(run, copy))[1]);
    }
    expect(waitsFor(run, "serving-load-w-0-rayswarm_serving_dev.tar", "serving-load-w-1-rayswarm_serving_dev.tar")).toBe(false);
  });

  test("the deploy feeds the stack file on stdin after the undo step and every node's preparation; the undo removes the stack", async () => {
    const deploy = "serving-deploy";
    for (const dep of ["serving-stack-rm", "serving-models-w-1", "serving-load-w-0-rayswarm_serving_dev.tar"])
      expect(waitsFor(run, deploy, dep)).toBe(true);
    expect(waitsFor(run, "serving-stack-rm", "serving-secret-redisConf")).toBe(true);
    expect(String((await input(run, "serving-stack-rm", "delete")).value)).toContain("host/stack-rm.sh rayswarm");
    expect(String((await input(run, deploy, "create")).value)).toContain("host/stack-deploy.sh rayswarm 600");
    const file = String((await input(run, deploy, "stdin")).value);
    expect(file).not.toContain("mock-password");
    const doc = yaml.load(file) as { services: Record<string, { image: string; deploy: { replicas: number } }> };
    expect(doc.services.api.deploy.replicas).toBe(2);
    expect(doc.services.worker.deploy.replicas).toBe(3);
    // the delivered image runs by the ID its tarball carries, not by its tag
    expect(doc.services.api.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    // triggers: the manager, the stack file's hash, then the script's (the order deployed stacks hold)
    const t = await triggersOf(run, deploy);
    expect(t[0]).toBe("mgr-id");
    expect(t[1]).toMatch(/^[0-9a-f]{64}$/);
    expect(t[2]).toMatch(/^[0-9a-f]{16}$/);
  });

  test("outputs: the URL on the manager's address; the generated passwords are secret", async () => {
    expect((await unwrap(run.outputs.url as never)).value).toBe("http://10.0.3.1:8080/");
    expect((await unwrap(run.outputs.rabbit as never)).secret).toBe(true);
  });
});

describe("args", () => {
  test.each([
    ["a manager that is not one of the nodes", (m: Host, n: Host[]) => args(m, n.slice(1)), /args\.manager must be one of args\.nodes/],
    ["dnsrr with the ingress mesh", (m: Host, n: Host[]) => args(m, n, { publishMode: "ingress" }), /args\.publishMode must be host/],
    ["no API replica", (m: Host, n: Host[]) => args(m, n, { apiReplicas: 0 }), /args\.apiReplicas and args\.workerReplicas must be >= 1/],
    [
      "a tarball that does not exist",
      (m: Host, n: Host[]) => args(m, n, { imageTarballs: [path.join(tarDir, "missing.tar")] }),
      /image tarball .*missing\.tar does not exist: make it with bash scripts\/images\/save-images\.sh/,
    ],
  ])("%s is refused", async (_label, make, message) => {
    const error = await componentError(() => {
      const m = fakeHost("mgr", ["swarm-manager"]);
      new ServingStack("serving", make(m, [m, fakeHost("w", ["swarm-worker"])]));
    });
    expect(error?.message).toMatch(message);
  });

  test("a node without the scripts installed is refused, naming it (the check the component lacked)", async () => {
    const error = await componentError(() => {
      const m = fakeHost("mgr", ["swarm-manager"]);
      const w = fakeHost("w", ["swarm-worker"]);
      new ServingStack("serving", args(m, [m, w], {}, [m]));
    });
    expect(error?.message).toMatch(/ServingStack serving: the scripts are not installed on host w/);
  });
});
