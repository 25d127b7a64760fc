import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import * as pulumi from "@pulumi/pulumi";
import { program } from "../../stacks/program";
import { buildStackFile, renderStackFile, StackFile, tarballImages } from "../../components/serving";
import { parsePlatformConfig } from "../../stacks/config";
import { RunResult, runProgram, stackConfig, unwrap, writeImageTarball } from "./support/harness";

const CMD = "command:remote:Command";

describe.each(["dev", "prod"])("serving stack and promotion on %s", (stack) => {
  let run: RunResult;
  let file: StackFile;
  let fileText: string;
  let passwords: string[];
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), program);
    const deploy = run.byName(`serving-deploy`);
    const stdin = await unwrap<string>(deploy.props.stdin as pulumi.Input<string>);
    expect(stdin.secret).toBe(false); // the stack file holds no secret, so it can be shown in diffs
    fileText = stdin.value!;
    file = yaml.load(fileText) as StackFile;
    passwords = run.ofType("random:index/randomPassword:RandomPassword").map((p) => `mock-password-${p.name}`);
  });

  test("the prediction service is the image this project builds: its tarball is delivered to every swarm machine and the stack file names its image ID", async () => {
    const config = stackConfig(stack);
    expect(config["rayswarm:servingImage"]).toBe("rayswarm/serving:dev");
    const [tar] = JSON.parse(config["rayswarm:imageTarballs"]) as string[];
    expect(tar.endsWith("/rayswarm_serving_dev.tar")).toBe(true);
    const id = tarballImages(tar)["rayswarm/serving:dev"];
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    // pinned: api and worker run the delivered image by ID, no tag is left to resolve
    expect(file.services.api.image).toBe(id);
    expect(file.services.worker.image).toBe(id);
    expect(fileText).not.toContain("rayswarm/serving");
    // delivery: a copy and a load per swarm machine, before the deploy
    const swarm = run.ofType("openstack:compute/instance:Instance").filter((i) => /swarm-(manager|worker)-\d+-vm$/.test(i.name));
    expect(swarm.length).toBe(stack === "dev" ? 2 : 6);
    const deploy = run.byName(`serving-deploy`);
    const before = run.dependsOnTransitively(deploy);
    for (const vm of swarm) {
      const machine = String(vm.inputs?.name).slice(`${stack}-`.length); // its key, in the steps' names
      const copy = run.byName(`serving-image-${machine}-rayswarm_serving_dev.tar`);
      expect(copy.type).toBe("command:remote:CopyToRemote");
      expect(copy.inputs?.remotePath).toBe("/var/tmp/rayswarm-image-rayswarm_serving_dev.tar");
      const load = run.byName(`serving-load-${machine}-rayswarm_serving_dev.tar`);
      expect(String((await unwrap(load.props.create as pulumi.Input<string>)).value)).toContain(
        "image-load.sh /var/tmp/rayswarm-image-rayswarm_serving_dev.tar",
      );
      // a rebuilt image (new tarball content) is copied and loaded again; a new machine gets it too
      const triggers = (copy.inputs?.triggers as string[]).concat(load.inputs?.triggers as string[]);
      expect(triggers).toContain(`${machine}-vm-id`);
      expect(before.has(load)).toBe(true);
      expect(run.dependsOnTransitively(load).has(copy)).toBe(true);
    }
    // another build of the image: another ID in the stack file, and the tarball's new hash in the triggers
    const rebuilt = await runProgram(stack, stackConfig(stack, "rebuilt"), program);
    const rebuiltFile = yaml.load(String((await unwrap(rebuilt.byName(`serving-deploy`).props.stdin as never)).value)) as StackFile;
    expect(rebuiltFile.services.api.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(rebuiltFile.services.api.image).not.toBe(id);
    const machine = String(swarm[0].inputs?.name).slice(`${stack}-`.length);
    const loadTriggers = (r: RunResult) => r.byName(`serving-load-${machine}-rayswarm_serving_dev.tar`).inputs?.triggers;
    expect(loadTriggers(rebuilt)).not.toEqual(loadTriggers(run));
  });

  test("RabbitMQ, Redis and the monitoring relay are this project's images too: each tarball reaches every swarm machine, and both stack files name image IDs only", async () => {
    const tarballs = JSON.parse(stackConfig(stack)["rayswarm:imageTarballs"]) as string[];
    const ids: Record<string, string> = Object.assign({}, ...tarballs.map((t) => tarballImages(t)));
    expect(Object.keys(ids).sort()).toEqual(["rayswarm/monitoring:2", "rayswarm/rabbitmq:3", "rayswarm/redis:7", "rayswarm/serving:dev"]);
    expect(new Set(Object.values(ids)).size).toBe(4);
    expect(file.services.rabbitmq.image).toBe(ids["rayswarm/rabbitmq:3"]);
    expect(file.services.redis.image).toBe(ids["rayswarm/redis:7"]);
    for (const svc of Object.values(file.services)) expect(svc.image).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(fileText).not.toMatch(/image: (?!sha256:)/);
    const monitoringDeploy = run.byName(`monitoring-stack-deploy`);
    const monitoringText = String((await unwrap(monitoringDeploy.props.stdin as pulumi.Input<string>)).value);
    const monitoring = yaml.load(monitoringText) as { services: Record<string, { image: string }> };
    expect(Object.keys(monitoring.services).sort()).toEqual(["redis-exporter", "relay"]);
    for (const svc of Object.values(monitoring.services)) expect(svc.image).toBe(ids["rayswarm/monitoring:2"]);
    expect(monitoringText).not.toMatch(/image: (?!sha256:)/);
    // every tarball is copied to and loaded on every swarm machine before either stack deploys
    const machines = run
      .ofType("openstack:compute/instance:Instance")
      .map((i) => String(i.inputs?.name).slice(`${stack}-`.length))
      .filter((m) => /^swarm-(manager|worker)-\d+$/.test(m));
    const servingBefore = run.dependsOnTransitively(run.byName(`serving-deploy`));
    const monitoringBefore = run.dependsOnTransitively(monitoringDeploy);
    for (const machine of machines)
      for (const t of tarballs) {
        const load = run.byName(`serving-load-${machine}-${path.basename(t)}`);
        expect(String((await unwrap(load.props.create as pulumi.Input<string>)).value)).toContain(
          `image-load.sh /var/tmp/rayswarm-image-${path.basename(t)}`,
        );
        expect({ load: load.name, serving: servingBefore.has(load), monitoring: monitoringBefore.has(load) }).toEqual({
          load: load.name,
          serving: true,
          monitoring: true,
        });
      }
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
    const secretCmds = run.ofType(CMD).filter((c) => c.name.startsWith(`serving-secret-`));
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
    const deploy = run.byName(`serving-deploy`);
    const swarmReady = run.byName(`swarm-nodes`);
    expect(run.dependsOnTransitively(deploy).has(swarmReady)).toBe(true);
    const dev = run.byName(`promotion-development`);
    for (const p of run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-production-`)))
      expect(run.dependsOnTransitively(p).has(deploy)).toBe(true);
    // one target step per production machine, each after that machine's hooks (so after serving)
    const targets = run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-target-`));
    expect(targets.length).toBe(run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-production-`)).length);
    for (const t of targets) {
      expect(run.dependsOnTransitively(t).has(deploy)).toBe(true);
      expect(run.dependsOnTransitively(t).has(dev)).toBe(true);
      expect(run.dependsOnTransitively(t).has(run.byName(t.name.replace("-target-", "-production-")))).toBe(true);
    }
    const initial = run.byName(`promotion-promote-initial`);
    expect(run.dependsOnTransitively(initial).has(run.byName("raycluster-initial-tuning"))).toBe(true);
    for (const t of [dev, ...targets]) expect(run.dependsOnTransitively(initial).has(t)).toBe(true);
  });

  test("every production machine gets the evaluation set (path, the CSV's sha256 from the bundle, margin); both are triggers", async () => {
    const manifest = JSON.parse(
      fs.readFileSync(path.join(__dirname, "../../workloads/tuning/rayswarm_tuning/evalsets/diabetes-v1.json"), "utf8"),
    );
    const csv = fs.readFileSync(path.join(__dirname, "../../workloads/tuning/rayswarm_tuning/evalsets", manifest.file));
    const sha = crypto.createHash("sha256").update(csv).digest("hex");
    expect(sha).toBe(manifest.sha256);
    const production = run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-production-`));
    expect(production.length).toBeGreaterThan(0);
    for (const p of production) {
      const create = String((await unwrap(p.props.create as pulumi.Input<string>)).value);
      expect(create).toMatch(
        new RegExp(`promotion-production\\.sh /srv/rayswarm/models \\d+ evalsets/diabetes-v1\\.json ${sha} 0\\.005; else`),
      );
      const triggers = (await unwrap(p.props.triggers as pulumi.Input<unknown[]>)).value as unknown[];
      expect(triggers).toEqual(expect.arrayContaining([sha, "0.005"]));
    }
  });

  test("the deploy key is a secret, authorised on every production machine, and given to the development machine on stdin", async () => {
    const production = run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-production-`));
    const cfg = stackConfig(stack);
    expect(production).toHaveLength(Number(cfg["rayswarm:swarmManagers"]) + Number(cfg["rayswarm:swarmWorkers"]));
    for (const p of production) expect(String((await unwrap(p.props.stdin as pulumi.Input<string>)).value)).toMatch(/^ssh-ed25519 /);
    const dev = run.byName(`promotion-development`);
    const stdin = await unwrap<string>(dev.props.stdin as pulumi.Input<string>);
    expect(stdin.secret).toBe(true);
    expect(stdin.value).toContain("PRIVATE KEY");
    const create = String((await unwrap(dev.props.create as pulumi.Input<string>)).value);
    expect(create).toMatch(/setup-development\.sh \/var\/lib\/rayswarm\/models-repo; else/);
    // each production machine is added (and on delete removed) by its own step
    const targets = run.ofType(CMD).filter((c) => c.name.startsWith(`promotion-target-`));
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
    // one line to tune + promote (budget, trials, seed), one to read every machine's registry
    // the head's ssh line (key and known_hosts files, the jump as a ProxyCommand), then the command
    const head =
      `^ssh -i ~/.ssh/rayswarm-${stack} -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-${stack}.known_hosts ` +
      `-o ProxyCommand="ssh -i ~/.ssh/rayswarm-${stack} -o IdentitiesOnly=yes -o UserKnownHostsFile=~/.ssh/rayswarm-${stack}.known_hosts ` +
      String.raw`-W %h:%p debian@198\.51\.100\.\d+" debian@10\.4\d\.0\.11 `;
    expect((await unwrap<string>(run.outputs.trainCommand as never)).value).toMatch(
      new RegExp(
        head +
          String.raw`sudo bash /opt/rayswarm/current/promotion/train-promote\.sh /var/lib/rayswarm/models-repo 10\.4\d\.0\.11:6379 --trials 16 --time-budget 600 --seed 7$`,
      ),
    );
    expect((await unwrap<string>(run.outputs.modelsCommand as never)).value).toMatch(
      new RegExp(head + String.raw`bash /opt/rayswarm/current/promotion/models\.sh( http://10\.4\d\.0\.\d+:8080)+$`),
    );
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

describe("the serving image on OpenStack must be one this stack delivers (or pinned by digest)", () => {
  const base = () => ({ ...stackConfig("dev"), "rayswarm:adminCidr": "203.0.113.0/24" });
  const problems = (cfg: Record<string, string>) => {
    try {
      parsePlatformConfig(cfg, "dev");
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  };

  test("a tag no tarball carries (the old default rayswarm/serving:latest) is refused, naming the key and the commands", () => {
    const msg = problems({ ...base(), "rayswarm:servingImage": "rayswarm/serving:latest" });
    expect(msg).toMatch(
      /rayswarm:servingImage rayswarm\/serving:latest is in no rayswarm:imageTarballs file \([^)]*rayswarm_serving_dev\.tar[^)]*\)/,
    );
    expect(msg).toContain(
      "bash scripts/images/build-images.sh serving && bash scripts/images/save-images.sh .local/images rayswarm/serving:latest",
    );
    expect(msg).toContain("list .local/images/rayswarm_serving_latest.tar in rayswarm:imageTarballs");
    const none = problems({ ...base(), "rayswarm:imageTarballs": "[]" });
    expect(none).toMatch(/rayswarm:servingImage rayswarm\/serving:dev is in no rayswarm:imageTarballs file \(none listed\)/);
  });

  test("RabbitMQ, Redis and the monitoring image must be delivered too: a public tag is refused, naming this project's image and its commands", () => {
    const cfg: Record<string, string> = base();
    const tarballs = JSON.parse(cfg["rayswarm:imageTarballs"]) as string[];
    const msg = problems({ ...cfg, "rayswarm:rabbitmqImage": "rabbitmq:3.13", "rayswarm:redisImage": "redis:7.4" });
    for (const [key, tag, own, image] of [
      ["rabbitmqImage", "rabbitmq:3.13", "rayswarm/rabbitmq:3", "rabbitmq"],
      ["redisImage", "redis:7.4", "rayswarm/redis:7", "redis"],
    ])
      expect(msg).toContain(
        `rayswarm:${key} ${tag} is in no rayswarm:imageTarballs file (` +
          `${tarballs.join(", ")}): the swarm runs the images this project builds, delivered as tarballs: ` +
          `set rayswarm:${key} to this project's ${own} and make it with bash scripts/images/build-images.sh ${image} && bash scripts/images/save-images.sh .local/images ${own}`,
      );
    expect(msg).toContain("list .local/images/rayswarm_rabbitmq_3.tar in rayswarm:imageTarballs");
    expect(msg).toContain("list .local/images/rayswarm_redis_7.tar in rayswarm:imageTarballs");
    // the schema's defaults are this project's images, not the public ones
    const defaults: Record<string, string> = { ...base() };
    for (const k of ["rayswarm:rabbitmqImage", "rayswarm:redisImage", "rayswarm:monitoringImage"]) delete defaults[k];
    expect(problems(defaults)).toBe("");
    // a stack that delivers the serving image alone (as dev and prod did) is told what else to make
    const servingOnly = [
      writeImageTarball(
        path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-serving-only-")), "rayswarm_serving_dev.tar"),
        "rayswarm/serving:dev",
      ),
    ];
    const lines = problems({ ...base(), "rayswarm:imageTarballs": JSON.stringify(servingOnly) })
      .split("\n")
      .filter((l) => l.includes("is in no rayswarm:imageTarballs file"));
    expect(lines.map((l) => /rayswarm:(\w+) /.exec(l)?.[1])).toEqual(["rabbitmqImage", "redisImage", "monitoringImage"]);
    expect(lines[2]).toContain(
      "make it with bash scripts/images/build-images.sh monitoring && bash scripts/images/save-images.sh .local/images rayswarm/monitoring:2",
    );
    // with monitoring off its image is not needed; an image named by digest needs no tarball
    expect(
      problems({
        ...base(),
        "rayswarm:imageTarballs": JSON.stringify(servingOnly),
        "rayswarm:monitoring": "false",
        "rayswarm:rabbitmqImage": `registry.example.com/rabbitmq@sha256:${"b".repeat(64)}`,
        "rayswarm:redisImage": `registry.example.com/redis@sha256:${"c".repeat(64)}`,
      }),
    ).toBe("");
  });

  test("a missing tarball names the commands that make it; a file that is not a docker save tarball is refused", () => {
    // a folder of its own, so a tarball this machine happens to have (.local/images) is not found
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-no-tar-"));
    const absent = path.join(empty, "rayswarm_serving_dev.tar");
    const missing = problems({ ...base(), "rayswarm:imageTarballs": JSON.stringify([absent]) });
    expect(missing).toContain(
      `rayswarm:imageTarballs: ${absent} does not exist: make it with bash scripts/images/build-images.sh serving && bash scripts/images/save-images.sh ${empty} rayswarm/serving:dev`,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-bad-tar-"));
    const bad = path.join(dir, "rayswarm_serving_dev.tar");
    fs.writeFileSync(bad, "not a tarball at all");
    expect(problems({ ...base(), "rayswarm:imageTarballs": JSON.stringify([bad]) })).toContain(
      `${bad} has no manifest.json: not a \`docker save\` tarball`,
    );
  });

  test("an image named by digest needs no tarball; deploy: infrastructure needs no tarball at all", () => {
    const digest = `registry.example.com/serving@sha256:${"a".repeat(64)}`;
    const cfg: Record<string, string> = base();
    const others = (JSON.parse(cfg["rayswarm:imageTarballs"]) as string[]).filter((t) => !t.endsWith("rayswarm_serving_dev.tar"));
    expect(problems({ ...cfg, "rayswarm:servingImage": digest, "rayswarm:imageTarballs": JSON.stringify(others) })).toBe("");
    expect(
      problems({ ...base(), "rayswarm:deploy": "infrastructure", "rayswarm:imageTarballs": '["/nonexistent/rayswarm_serving_dev.tar"]' }),
    ).toBe("");
  });

  test("tarballs as docker save writes them: the tag's image ID is its config blob's digest (older and OCI layouts)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-tar-"));
    const file = writeImageTarball(path.join(dir, "a.tar"), "rayswarm/serving:dev", "x");
    const ids = tarballImages(file);
    expect(Object.keys(ids)).toEqual(["rayswarm/serving:dev"]);
    const configName = execFileSync("tar", ["-tf", file], { encoding: "utf8" })
      .split("\n")
      .find((n) => n.endsWith(".json") && n !== "manifest.json")!;
    const config = execFileSync("tar", ["-xOf", file, configName]);
    expect(ids["rayswarm/serving:dev"]).toBe(`sha256:${crypto.createHash("sha256").update(config).digest("hex")}`);
    // an OCI-layout tarball (docker >= 25): Config is blobs/sha256/<hex>, made with GNU tar here
    const oci = path.join(dir, "oci");
    fs.mkdirSync(path.join(oci, "blobs/sha256"), { recursive: true });
    const hex = crypto.createHash("sha256").update("{}").digest("hex");
    fs.writeFileSync(path.join(oci, "blobs/sha256", hex), "{}");
    fs.writeFileSync(path.join(oci, "manifest.json"), JSON.stringify([{ Config: `blobs/sha256/${hex}`, RepoTags: ["x/y:1"], Layers: [] }]));
    execFileSync("tar", ["-cf", path.join(dir, "oci.tar"), "-C", oci, "blobs", "manifest.json"]);
    expect(tarballImages(path.join(dir, "oci.tar"))).toEqual({ "x/y:1": `sha256:${hex}` });
  });
});
