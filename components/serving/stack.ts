import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { ChildNames, withAliases } from "../core/names";
import * as command from "@pulumi/command";
import * as random from "@pulumi/random";
import { Host } from "../host";
import { BundleScripts, HostScripts } from "../runner";
import { AMQP_USER, buildStackFile, renderStackFile, StackSettings } from "./stackfile";
import { carriedImages, pinnedRef } from "./images";

/**
 * The stack's settings (images, replicas, port, endpoint/publish modes, model folder; see
 * StackSettings) plus where and how to deploy it.
 */
export interface ServingStackArgs extends Pick<
  StackSettings,
  "images" | "apiReplicas" | "workerReplicas" | "port" | "endpointMode" | "publishMode" | "modelRoot"
> {
  /** The manager that runs `docker stack deploy`. */
  readonly manager: Host;
  /** Every production machine (managers + workers): model folder and image preload. */
  readonly nodes: readonly Host[];
  /** The swarm is ready (all nodes joined and labelled). */
  readonly swarmReady: pulumi.Resource;
  /** The script bundle, installed on every node (components/runner.ts installBundles). */
  readonly scripts: HostScripts<BundleScripts>;
  /** Stack name. Default: `rayswarm`. */
  readonly stackName?: string;
  /** Encrypt the overlay network (StackSettings.encryptOverlay). */
  readonly encryptOverlay: boolean;
  /**
   * `docker save` tarballs loaded on every node before deploying. Default: none. An image of
   * args.images that a tarball carries is named by its image ID in the stack file (pinned).
   */
  readonly imageTarballs?: readonly string[];
  /** Seconds to wait for convergence. Default: 600. */
  readonly convergeSeconds?: number;
  /** Address users reach the API at. Default: the manager's private address. */
  readonly publicAddress?: pulumi.Input<string>;
}

/** sha256 of a file, read in chunks (image tarballs are hundreds of MB). */
function fileSha256(file: string): string {
  const h = crypto.createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

/** Short, non-reversible tag of a secret value, so a new value gets a new Docker secret name. */
function tagOf(value: pulumi.Output<string>): pulumi.Output<string> {
  return pulumi.unsecret(value.apply((v) => crypto.createHash("sha256").update(v).digest("hex").slice(0, 10)));
}

/**
 * The prediction service on the swarm: generated secrets delivered as Docker secrets, the
 * stack file (js-yaml) deployed with `docker stack deploy` from a manager, a wait until every
 * service has converged, `docker stack rm` on delete. Output: the web URL.
 */
export class ServingStack extends pulumi.ComponentResource {
  public readonly url: pulumi.Output<string>;
  /** The rendered stack file (no secret values in it). */
  public readonly stackFile: pulumi.Output<string>;
  /** Generated credentials (secret). */
  public readonly rabbitmqPassword: pulumi.Output<string>;
  public readonly redisPassword: pulumi.Output<string>;
  /** Depend on this to use the service: deployed and converged. */
  public readonly ready: command.remote.Command;
  /** The images as the stack file names them: image IDs (`sha256:…`) for those the tarballs deliver. */
  public readonly images: StackSettings["images"];
  /**
   * Another stack's image as its stack file must name it on these machines: the image ID when
   * args.imageTarballs delivers it (loaded on every node before `ready`), else `ref` as given.
   */
  public readonly pinned: (ref: string) => string;

  constructor(name: string, args: ServingStackArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:serving:ServingStack", name, {}, opts);
    const names = ChildNames.of(opts, name);
    if (args.apiReplicas < 1 || args.workerReplicas < 1)
      throw new pulumi.ResourceError(`ServingStack ${name}: args.apiReplicas and args.workerReplicas must be >= 1`, this);
    if (args.endpointMode === "dnsrr" && args.publishMode === "ingress")
      throw new pulumi.ResourceError(
        `ServingStack ${name}: args.publishMode must be host when args.endpointMode is dnsrr (the ingress mesh needs a VIP)`,
        this,
      );
    if (!args.nodes.some((n) => n.name === args.manager.name))
      throw new pulumi.ResourceError(`ServingStack ${name}: args.manager must be one of args.nodes`, this);
    // Relative tarball paths are relative to the project folder (where `pulumi` runs).
    const tarballs = (args.imageTarballs ?? []).map((t) => path.resolve(t));
    for (const t of tarballs)
      if (!fs.existsSync(t))
        throw new pulumi.ResourceError(
          `ServingStack ${name}: image tarball ${t} does not exist: make it with bash scripts/images/save-images.sh ${path.dirname(t)} <image>`,
          this,
        );
    // A tarball is known by its content: a rebuilt image is copied and loaded again.
    const tarHash = Object.fromEntries(tarballs.map((t) => [t, fileSha256(t)]));
    // The images the tarballs deliver are run by image ID: what was loaded, not what a tag names.
    let carried: ReturnType<typeof carriedImages>;
    try {
      carried = carriedImages(tarballs);
    } catch (e) {
      throw new pulumi.ResourceError(`ServingStack ${name}: args.imageTarballs: ${(e as Error).message}`, this);
    }
    const images: StackSettings["images"] = {
      serving: pinnedRef(args.images.serving, carried),
      rabbitmq: pinnedRef(args.images.rabbitmq, carried),
      redis: pinnedRef(args.images.redis, carried),
    };
    const stack = args.stackName ?? "rayswarm";
    const who = `ServingStack ${name}`;
    const runners = Object.fromEntries(args.nodes.map((n) => [n.name, args.scripts.on(n, this, who)]));
    const manager = runners[args.manager.name];

    // Credentials: generated, secret end to end.
    const password = (id: string) => {
      const n = names.child(`${id}-password`);
      return new random.RandomPassword(
        n.name,
        { length: 32, special: false },
        withAliases(n, { parent: this, additionalSecretOutputs: ["result"] }),
      );
    };
    const rabbit = pulumi.secret(password("rabbitmq").result);
    const redis = pulumi.secret(password("redis").result);
    const contents = {
      amqpPassword: rabbit,
      rabbitmqConf: pulumi.secret(rabbit.apply((p) => `default_user = ${AMQP_USER}\ndefault_pass = ${p}\ndefault_vhost = /\n`)),
      redisPassword: redis,
      redisConf: pulumi.secret(
        redis.apply(
          (p) => `requirepass ${p}\nappendonly yes\nappendfsync everysec\ndir /data\nbind 0.0.0.0\nport 6379\nprotected-mode yes\n`,
        ),
      ),
    };
    const secretNames = {
      amqpPassword: pulumi.interpolate`${stack}_amqp_password_${tagOf(contents.amqpPassword)}`,
      rabbitmqConf: pulumi.interpolate`${stack}_rabbitmq_conf_${tagOf(contents.rabbitmqConf)}`,
      redisPassword: pulumi.interpolate`${stack}_redis_password_${tagOf(contents.redisPassword)}`,
      redisConf: pulumi.interpolate`${stack}_redis_conf_${tagOf(contents.redisConf)}`,
    };

    // Docker secrets, created from stdin on the manager (never in argv, logs or the stack file).
    const secrets = (Object.keys(contents) as (keyof typeof contents)[]).map((k) =>
      manager.run(names.child("secret", undefined, k), "host/swarm-secret.sh", {
        args: ["create", secretNames[k]],
        undo: { script: "host/swarm-secret.sh", args: ["remove", secretNames[k]] },
        stdin: contents[k],
        secretStdin: true,
        // Only a new manager makes a secret again (a new value has a new name, so a new
        // create line); script edits never replace a secret that running services use.
        uses: [],
        after: [args.swarmReady],
      }),
    );

    // Every node: the model folder the workers mount, and the images (when preloading).
    const prepared: pulumi.Resource[] = [];
    for (const n of args.nodes) {
      const run = runners[n.name];
      prepared.push(run.run(names.child("models", n), "host/model-root.sh", { args: [args.modelRoot], triggers: [args.modelRoot] }));
      for (const tar of tarballs) {
        const base = path.basename(tar);
        const remote = `/var/tmp/rayswarm-image-${base}`;
        const copy = run.copy(names.child("image", n, base), {
          source: new pulumi.asset.FileAsset(tar),
          remotePath: remote,
          triggers: [tarHash[tar]],
        });
        prepared.push(
          run.run(names.child("load", n, base), "host/image-load.sh", {
            args: [remote],
            triggers: [tarHash[tar]],
            after: [copy, args.swarmReady],
          }),
        );
      }
    }

    const stackFile = pulumi.all(secretNames).apply((names) =>
      renderStackFile(
        buildStackFile({
          images,
          apiReplicas: args.apiReplicas,
          workerReplicas: args.workerReplicas,
          port: args.port,
          endpointMode: args.endpointMode,
          publishMode: args.publishMode,
          modelRoot: args.modelRoot,
          encryptOverlay: args.encryptOverlay,
          stateNode: args.manager.name,
          secretNames: names as StackSettings["secretNames"],
        }),
      ),
    );

    // Undo: remove the stack (before its secrets and before the swarm goes away).
    const remove = manager.undo(names.child("stack-rm"), "host/stack-rm.sh", { args: [stack], after: [args.swarmReady, ...secrets] });
    this.ready = manager.run(names.child("deploy"), "host/stack-deploy.sh", {
      args: [stack, args.convergeSeconds ?? 600],
      stdin: stackFile,
      // Re-deploys when the stack file changes (its hash, not its text, is the trigger).
      triggers: [stackFile.apply((f) => crypto.createHash("sha256").update(f).digest("hex"))],
      scriptHashLast: true,
      after: [remove, ...prepared],
    });

    this.stackFile = stackFile;
    this.images = images;
    this.pinned = (ref) => pinnedRef(ref, carried);
    this.rabbitmqPassword = rabbit;
    this.redisPassword = redis;
    this.url = pulumi.interpolate`http://${args.publicAddress ?? args.manager.privateAddress}:${args.port}/`;
    this.registerOutputs({ url: this.url, stackFile: this.stackFile, rabbitmqPassword: rabbit, redisPassword: redis });
  }
}
