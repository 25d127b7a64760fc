import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { program } from "../../stacks/program";
import { buildStackFile, renderStackFile, StackFile } from "../../components/serving";
import { RunResult, runProgram, stackConfig, unwrap } from "./support/harness";

const CMD = "command:remote:Command";

describe.each(["dev", "prod"])("serving stack and promotion on %s", (stack) => {
  let run: RunResult;
  let file: StackFile;
  let fileText: string;
  let passwords: string[];
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), program);
    const deploy = run.byName(`${stack}-serving-deploy`);
    const stdin = await unwrap<string>(deploy.props.stdin as pulumi.Input<string>);
    expect(stdin.secret).toBe(false); // the stack file holds no secret, so it can be shown in diffs
    fileText = stdin.value!;
    file = yaml.load(fileText) as StackFile;
    passwords = run.ofType("random:index/randomPassword:RandomPassword").map((p) => `mock-password-${p.name}`);
  });

  test("the stack file has the four services with replicas from config", () => {
    const cfg = stackConfig(stack);
    expect(Object.keys(file.services).sort()).toEqual(["api", "rabbitmq", "redis", "worker"]);
    expect(file.services.api.deploy.replicas).toBe(Number(cfg["rayswarm:apiReplicas"] ?? 2));
    expect(file.services.worker.deploy.replicas).toBe(Number(cfg["rayswarm:workerReplicas"] ?? 2));
    expect(file.services.api.ports).toEqual([{ target: 8080, published: 8080, protocol: "tcp", mode: "ingress" }]);
    expect(file.services.worker.volumes).toEqual([
      { type: "bind", source: "/srv/rayswarm/models", target: "/srv/models", read_only: true },
    ]);
    expect(file.services.rabbitmq.volumes![0]).toMatchObject({ type: "volume", target: "/var/lib/rabbitmq" });
    expect(file.services.redis.command).toEqual(["redis-server", "/run/secrets/redis.conf"]);
  });

  test("no secret value appears in the stack file; secrets are referenced as external Docker secrets", async () => {
    const generated = await Promise.all(
      run
        .ofType("random:index/randomPassword:RandomPassword")
        .map(async (p) => String((await unwrap((p.resource as unknown as { result: pulumi.Output<string> }).result)).value)),
    );
    expect(generated).toHaveLength(2);
    for (const secret of generated) expect(fileText).not.toContain(secret);
    expect(fileText).not.toMatch(/password\s*[:=]\s*\S{8,}|requirepass|default_pass/i);
    for (const s of Object.values(file.secrets)) expect(s.external).toBe(true);
    const referenced = new Set(Object.values(file.services).flatMap((svc) => (svc.secrets ?? []).map((x) => x.source)));
    expect([...referenced].sort()).toEqual(Object.keys(file.secrets).sort());
    expect(file.services.api.environment).toMatchObject({
      AMQP_PASSWORD_FILE: "/run/secrets/amqp_password",
      REDIS_PASSWORD_FILE: "/run/secrets/redis_password",
    });
    for (const svc of Object.values(file.services))
      for (const v of Object.values(svc.environment ?? {})) for (const secret of generated) expect(v).not.toContain(secret);
    void passwords;
  });

  test("every Docker secret is created from stdin, which is a Pulumi secret; no command line holds a secret", async () => {
    const secretCmds = run.ofType(CMD).filter((c) => c.name.startsWith(`${stack}-serving-secret-`));
    expect(secretCmds).toHaveLength(4);
    for (const c of secretCmds) {
      const stdin = await unwrap<string>(c.props.stdin as pulumi.Input<string>);
      expect(stdin.secret).toBe(true);
      const create = String((await unwrap(c.props.create as pulumi.Input<string>)).value);
      expect(create).toMatch(/swarm-secret\.sh create rayswarm_[a-z_]+_[0-9a-f]{10}/);
      expect(create).not.toContain(String(stdin.value));
    }
  });

  test("healthchecks, restart policies, limits, start-first updates with rollback on failure", () => {
    for (const [name, svc] of Object.entries(file.services)) {
      expect(svc.healthcheck.test.length).toBeGreaterThan(1);
      expect(svc.deploy.restart_policy.condition).toBe("any");
      expect(svc.deploy.resources.limits.memory).toMatch(/^\d+[MG]$/);
      expect(svc.deploy.update_config.failure_action).toBe("rollback");
      expect(svc.deploy.rollback_config).toBeDefined();
      if (name === "api" || name === "worker") expect(svc.deploy.update_config.order).toBe("start-first");
    }
    expect(file.networks.backend).toEqual({ driver: "overlay", driver_opts: { encrypted: "" }, attachable: false });
    expect(file.services.api.deploy.endpoint_mode).toBe("vip");
  });

  test("order: the stack deploys after the swarm is ready; promotion is wired after serving; the first model after tuning", () => {
    const deploy = run.byName(`${stack}-serving-deploy`);
    const swarmReady = run.byName(`${stack}-swarm-nodes`);
    expect(run.dependsOnTransitively(deploy).has(swarmReady)).toBe(true);
    const dev = run.byName(`${stack}-promotion-development`);
    for (const p of run.ofType(CMD).filter((c) => c.name.startsWith(`${stack}-promotion-production-`)))
      expect(run.dependsOnTransitively(p).has(deploy)).toBe(true);
    // one target step per production machine, each after that machine's hooks (so after serving)
    const targets = run.ofType(CMD).filter((c) => c.name.startsWith(`${stack}-promotion-target-`));
    expect(targets.length).toBe(run.ofType(CMD).filter((c) => c.name.startsWith(`${stack}-promotion-production-`)).length);
    for (const t of targets) {
      expect(run.dependsOnTransitively(t).has(deploy)).toBe(true);
      expect(run.dependsOnTransitively(t).has(dev)).toBe(true);
      expect(run.dependsOnTransitively(t).has(run.byName(t.name.replace("-target-", "-production-")))).toBe(true);
    }
    const initial = run.byName(`${stack}-promotion-promote-initial`);
    expect(run.dependsOnTransitively(initial).has(run.byName(`${stack}-raycluster-initial-tuning`))).toBe(true);
    for (const t of [dev, ...targets]) expect(run.dependsOnTransitively(initial).has(t)).toBe(true);
  });

  test("the deploy key is a secret, authorised on every production machine, and given to the development machine on stdin", async () => {
    const production = run.ofType(CMD).filter((c) => c.name.startsWith(`${stack}-promotion-production-`));
    const cfg = stackConfig(stack);
    expect(production).toHaveLength(Number(cfg["rayswarm:swarmManagers"]) + Number(cfg["rayswarm:swarmWorkers"]));
    for (const p of production) expect(String((await unwrap(p.props.stdin as pulumi.Input<string>)).value)).toMatch(/^ssh-ed25519 /);
    const dev = run.byName(`${stack}-promotion-development`);
    const stdin = await unwrap<string>(dev.props.stdin as pulumi.Input<string>);
    expect(stdin.secret).toBe(true);
    expect(stdin.value).toContain("PRIVATE KEY");
    const create = String((await unwrap(dev.props.create as pulumi.Input<string>)).value);
    expect(create).toMatch(/setup-development\.sh \/var\/lib\/rayswarm\/models-repo; else/);
    // each production machine is added (and on delete removed) by its own step
    const targets = run.ofType(CMD).filter((c) => c.name.startsWith(`${stack}-promotion-target-`));
    const adds = await Promise.all(targets.map(async (t) => String((await unwrap(t.props.create as pulumi.Input<string>)).value)));
    const removes = await Promise.all(targets.map(async (t) => String((await unwrap(t.props.delete as pulumi.Input<string>)).value)));
    expect(new Set(adds.map((a) => /target\.sh add \/var\/lib\/rayswarm\/models-repo (git@10\.4\d\.0\.\d+)/.exec(a)?.[1])).size).toBe(
      production.length,
    );
    expect(removes.every((r) => /target\.sh remove \/var\/lib\/rayswarm\/models-repo git@10\.4\d\.0\.\d+/.test(r))).toBe(true);
  });

  test("the outputs include the web URL on a manager's public address and the operator commands", async () => {
    expect((await unwrap<string>(run.outputs.webUrl as never)).value).toMatch(/^http:\/\/198\.51\.100\.\d+:8080\/$/);
    expect((await unwrap<string>(run.outputs.promoteCommand as never)).value).toMatch(
      new RegExp(
        `^ssh -i ~/.ssh/rayswarm-${stack} -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-${stack}.known_hosts ` +
          `-o ProxyCommand="ssh -i ~/.ssh/rayswarm-${stack} -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-${stack}.known_hosts ` +
          String.raw`-W %h:%p debian@198\.51\.100\.\d+" debian@10\.4\d\.0\.11 sudo bash /opt/rayswarm/current/promotion/promote\.sh `,
      ),
    );
    expect((await unwrap<string>(run.outputs.modelVersion as never)).value).toBe("20261129T000000Z-mock0001");
  });
});

describe("stack file variants", () => {
  const base = {
    images: { serving: "rayswarm/serving:dev", rabbitmq: "rabbitmq:3.13", redis: "redis:7.4" },
    apiReplicas: 2,
    workerReplicas: 3,
    port: 9000,
    modelRoot: "/srv/m",
    encryptOverlay: false,
    stateNode: "mgr",
    secretNames: { amqpPassword: "a", rabbitmqConf: "b", redisPassword: "c", redisConf: "d" },
  };
  test("dnsrr + host mode for kernels without IPVS: one API task per node, stop-first updates", () => {
    const f = buildStackFile({ ...base, endpointMode: "dnsrr", publishMode: "host" });
    expect(f.services.api.ports).toEqual([{ target: 8080, published: 9000, protocol: "tcp", mode: "host" }]);
    expect(f.services.api.deploy.placement?.max_replicas_per_node).toBe(1);
    expect(f.services.api.deploy.update_config.order).toBe("stop-first");
    for (const svc of Object.values(f.services)) expect(svc.deploy.endpoint_mode).toBe("dnsrr");
    expect(f.networks.backend.driver_opts).toBeUndefined();
    expect(f.services.rabbitmq.deploy.placement?.constraints).toEqual(["node.labels.rayswarm.host == mgr"]);
  });
  test("renders to YAML that reads back identically", () => {
    const f = buildStackFile({ ...base, endpointMode: "vip", publishMode: "ingress" });
    expect(yaml.load(renderStackFile(f))).toEqual(JSON.parse(JSON.stringify(f)));
  });
});
