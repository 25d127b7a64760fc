import * as yaml from "js-yaml";
import { tarballImages } from "../../components/serving";
import { program } from "../../stacks/program";
import { RunResult, localConfig, runProgram, unwrap } from "./support/harness";

describe("the local stack: node containers on this Docker engine", () => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram("local", localConfig(), program);
  });

  test("five node containers on one network, each with its own /var/lib/docker volume and the flags that work without --privileged", () => {
    const containers = run.ofType("docker:index/container:Container");
    // Named by machine key (components/core/names.ts); the containers themselves by machine name.
    expect(containers.map((c) => c.name).sort()).toEqual([
      "orchestration",
      "ray-head",
      "ray-worker-0",
      "swarm-manager-0",
      "swarm-worker-0",
    ]);
    expect(containers.map((c) => c.inputs?.name).sort()).toEqual([
      "local-orchestration",
      "local-ray-head",
      "local-ray-worker-0",
      "local-swarm-manager-0",
      "local-swarm-worker-0",
    ]);
    expect(run.ofType("docker:index/network:Network")).toHaveLength(1);
    expect(run.ofType("docker:index/volume:Volume")).toHaveLength(5);
    for (const c of containers) {
      const i = c.inputs as Record<string, unknown>;
      expect(i.capabilities).toEqual({ adds: ["ALL"], drops: ["SYS_RESOURCE"] });
      expect(i.privileged).toBeUndefined();
      expect(i.cgroupnsMode).toBe("host");
      expect(i.securityOpts).toEqual(["seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"]);
      expect(i.tmpfs).toEqual({ "/run": "", "/run/lock": "", "/tmp": "exec,mode=1777" });
      expect((i.volumes as { containerPath: string }[]).map((v) => v.containerPath)).toContain("/var/lib/docker");
      expect(i.hostname).toBe(i.name);
      expect(String((i.envs as string[])[0])).toMatch(/^SSH_AUTHORIZED_KEYS=ssh-ed25519 /);
    }
  });

  test("only the bastion's SSH and the manager's serving port are published, on 127.0.0.1 only", () => {
    const published = run
      .ofType("docker:index/container:Container")
      .flatMap((c) =>
        ((c.inputs?.ports as { internal: number; external: number; ip: string }[]) ?? []).map((p) => ({ name: c.name, ...p })),
      );
    expect(published).toEqual([
      { name: "orchestration", internal: 22, external: 2222, ip: "127.0.0.1" },
      { name: "swarm-manager-0", internal: 8080, external: 8080, ip: "127.0.0.1" },
    ]);
  });

  test("machines are reached through the bastion with a generated secret key; the swarm stack uses dnsrr and host ports", async () => {
    for (const c of run.ofType("command:remote:Command").filter((x) => x.name.endsWith("-ready"))) {
      const conn = await unwrap<Record<string, unknown>>(c.props.connection as never);
      expect(conn.secret).toBe(true);
      if (c.name === "orchestration-ready") expect(conn.value).toMatchObject({ host: "127.0.0.1", port: 2222 });
      else expect(conn.value?.proxy).toMatchObject({ host: "127.0.0.1", port: 2222 });
      if (c.name !== "orchestration-ready") expect(run.dependsOnTransitively(c).has(run.byName("orchestration-ready"))).toBe(true);
    }
    expect((await unwrap<string>(run.outputs.webUrl as never)).value).toBe("http://127.0.0.1:8080/");
    const copies = run.ofType("command:remote:CopyToRemote");
    expect(copies).toHaveLength(8); // 4 tarballs x 2 swarm machines
  });

  test("the images the node containers run are the ones the tarballs deliver, named by image ID in both stack files (the monitoring one too)", async () => {
    const tarballs = JSON.parse(localConfig()["rayswarm:imageTarballs"]) as string[];
    const ids: Record<string, string> = Object.assign({}, ...tarballs.map((t) => tarballImages(t)));
    const stackFile = async (step: string) =>
      yaml.load(String((await unwrap(run.byName(step).props.stdin as never)).value)) as { services: Record<string, { image: string }> };
    const serving = await stackFile("serving-deploy");
    expect(Object.fromEntries(Object.entries(serving.services).map(([k, v]) => [k, v.image]))).toEqual({
      rabbitmq: ids["rayswarm/rabbitmq:3"],
      redis: ids["rayswarm/redis:7"],
      api: ids["rayswarm/serving:dev"],
      worker: ids["rayswarm/serving:dev"],
    });
    const monitoring = await stackFile("monitoring-stack-deploy");
    for (const svc of Object.values(monitoring.services)) expect(svc.image).toBe(ids["rayswarm/monitoring:2"]);
  });
});
