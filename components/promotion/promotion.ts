import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { ChildNames, withAliases } from "../core/names";
import * as tls from "@pulumi/tls";
import { Host } from "../host";
import { BundleFile, REMOTE_CURRENT } from "../remote";
import { BundleScripts, HostScripts } from "../runner";

export interface ModelPromotionArgs {
  /** The development machine (Ray head): the models working repo lives here. */
  readonly development: Host;
  /**
   * Every production machine: bare repo + hooks + model folder. Their `hostKey`s (when known)
   * are what the development machine's pushes check (see ModelPromotion.hostKeyChecking).
   */
  readonly production: readonly Host[];
  /** The script bundle, installed on every machine of both sides (components/runner.ts installBundles). */
  readonly scripts: HostScripts<BundleScripts>;
  /** Model folder on production machines (versions/<id>/ + `current`). */
  readonly modelRoot: string;
  /** Versions kept per production machine (>= 2). */
  readonly keepVersions: number;
  /**
   * The evaluation set every production machine's gate scores the live model and each candidate
   * on: a manifest inside the tuning package, e.g. `evalsets/diabetes-v1.json` (its CSV's
   * sha256 is pinned on the machines). Default: DEFAULT_EVAL_SET.
   */
  readonly evalSet?: string;
  /** Relative RMSE improvement on that set a candidate needs, a decimal fraction. Default: "0.005". */
  readonly minImprovement?: string;
  /** Working repo on the development machine. Default: /var/lib/rayswarm/models-repo. */
  readonly repoDir?: string;
  /** A model folder on the development machine to promote once everything is wired (the initial tuning job's). */
  readonly initialModel?: { readonly dir: string; readonly version: pulumi.Input<string>; readonly after: pulumi.Resource[] };
  /** Resources the wiring waits for (e.g. the serving stack, so the first model lands on running workers). */
  readonly after?: pulumi.Resource[];
  /** For operator commands: how to reach the development machine. */
  readonly developmentSsh: pulumi.Input<string>;
  /** For the train command: the Ray cluster's address (`<head>:6379`), as seen on the head. */
  readonly rayAddress?: pulumi.Input<string>;
  /** For the registry command: the serving port on the production machines. Default: 8080. */
  readonly servingPort?: number;
  /** The search the printed train command runs. */
  readonly train: TrainSearch;
}

/** A search the train command runs on the Ray cluster: trials, time budget (s), seed. */
export interface TrainSearch {
  readonly trials: number;
  readonly timeBudgetSeconds: number;
  readonly seed: number;
}

export const DEFAULT_REPO_DIR = "/var/lib/rayswarm/models-repo";
export const DEFAULT_EVAL_SET = "evalsets/diabetes-v1.json";
export const DEFAULT_MIN_IMPROVEMENT = "0.005";

/** The evaluation set's manifest and the sha256 of its CSV, read from the bundle (checked against the manifest). */
export function evalSetOf(files: readonly BundleFile[], manifest: string): { name: string; version: number; sha256: string } {
  const find = (p: string) => files.find((f) => f.path === `tuning/rayswarm_tuning/${p}`);
  const m = find(manifest);
  if (!m) throw new Error(`evaluation set ${manifest} is not in workloads/tuning/rayswarm_tuning/`);
  const man = JSON.parse(m.content) as { name: string; version: number; file: string; sha256: string };
  const dir = manifest.includes("/") ? manifest.slice(0, manifest.lastIndexOf("/") + 1) : "";
  const data = find(dir + man.file);
  if (!data) throw new Error(`evaluation set ${manifest}: its data file ${man.file} is not beside it`);
  const sha256 = crypto.createHash("sha256").update(data.content, "utf8").digest("hex");
  if (sha256 !== man.sha256)
    throw new Error(`evaluation set ${manifest}: ${man.file} has sha256 ${sha256}, the manifest says ${man.sha256}`);
  return { name: man.name, version: man.version, sha256 };
}

/**
 * The seed project's git-hook flow: a deploy key (generated, secret) authorised on every
 * production machine for git only (user `git`, shell git-shell); there a bare models repo whose
 * pre-receive hook runs the promotion gate and whose post-receive hook checks the model out
 * into versions/<id>/ and switches `current` atomically. On the development machine a working
 * repo whose `production` remote pushes to all of them from a post-commit hook.
 */
export class ModelPromotion extends pulumi.ComponentResource {
  /** The deploy key's public half (authorised on production) and private half (secret). */
  public readonly deployPublicKey: pulumi.Output<string>;
  public readonly deployPrivateKey: pulumi.Output<string>;
  public readonly repoDir: string;
  /** What an operator runs to promote a model folder, or roll back. */
  public readonly promoteCommand: pulumi.Output<string>;
  public readonly rollbackCommand: pulumi.Output<string>;
  /** Tune a new model on the Ray cluster and promote it; ends with every machine's gate verdict. */
  public readonly trainCommand: pulumi.Output<string>;
  /** The registry of every production machine (versions, live, promotion history). */
  public readonly modelsCommand: pulumi.Output<string>;
  /** The version promoted by `pulumi up` (when an initial model was given). */
  public readonly initialVersion?: pulumi.Output<string>;
  /** Depend on this: hooks in place everywhere (and the initial model live, if any). */
  public readonly ready: pulumi.Resource;
  /**
   * How the development machine's pushes check the production machines' SSH host keys: `yes`
   * when every production Host has a hostKey (each one is put in the repo's known_hosts), else
   * `accept-new` (trust on first use; the keys that are known are put there and checked).
   */
  public readonly hostKeyChecking: "yes" | "accept-new";

  constructor(name: string, args: ModelPromotionArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("rayswarm:promotion:ModelPromotion", name, {}, opts);
    const names = ChildNames.of(opts, name);
    if (args.production.length === 0)
      throw new pulumi.ResourceError(`ModelPromotion ${name}: args.production must list at least one machine`, this);
    if (args.keepVersions < 2)
      throw new pulumi.ResourceError(
        `ModelPromotion ${name}: args.keepVersions must be >= 2 (got ${args.keepVersions}): rollback needs the previous version`,
        this,
      );
    if (!args.modelRoot.startsWith("/"))
      throw new pulumi.ResourceError(`ModelPromotion ${name}: args.modelRoot must be absolute (got ${args.modelRoot})`, this);
    for (const [k, v, min] of [
      ["trials", args.train.trials, 1],
      ["timeBudgetSeconds", args.train.timeBudgetSeconds, 1],
      ["seed", args.train.seed, 0],
    ] as const)
      if (!Number.isInteger(v) || v < min)
        throw new pulumi.ResourceError(`ModelPromotion ${name}: args.train.${k} must be an integer >= ${min} (got ${v})`, this);
    const who = `ModelPromotion ${name}`;
    const devRun = args.scripts.on(args.development, this, who);
    const prodRuns = args.production.map((h) => args.scripts.on(h, this, who));
    const files = args.scripts.set.files;
    const repoDir = args.repoDir ?? DEFAULT_REPO_DIR;
    const evalSetPath = args.evalSet ?? DEFAULT_EVAL_SET;
    const minImprovement = args.minImprovement ?? DEFAULT_MIN_IMPROVEMENT;
    if (!/^0(\.\d{1,6})?$/.test(minImprovement))
      throw new pulumi.ResourceError(
        `ModelPromotion ${name}: args.minImprovement must be a fraction such as 0.005 (got ${minImprovement})`,
        this,
      );
    let evalSet: { name: string; version: number; sha256: string };
    try {
      evalSet = evalSetOf(files, evalSetPath);
    } catch (e) {
      throw new pulumi.ResourceError(`ModelPromotion ${name}: args.evalSet: ${(e as Error).message}`, this);
    }
    const promotionFiles = files.filter((f) => f.path.startsWith("promotion/")).map((f) => f.path);
    const gateFiles = files.filter((f) => /^tuning\/(rayswarm_tuning\/|requirements-gate\.txt)/.test(f.path)).map((f) => f.path);

    const deployKey = names.child("deploy-key");
    const key = new tls.PrivateKey(
      deployKey.name,
      { algorithm: "ED25519" },
      withAliases(deployKey, { parent: this, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] }),
    );
    this.deployPublicKey = key.publicKeyOpenssh;
    this.deployPrivateKey = pulumi.secret(key.privateKeyOpenssh);

    // Production side, all machines in parallel.
    const productionUses = ["host/common.sh", "host/promotion-production.sh", ...promotionFiles, ...gateFiles];
    const production = prodRuns.map((run) =>
      run.run(names.child("production", run.host), "host/promotion-production.sh", {
        args: [args.modelRoot, args.keepVersions, evalSetPath, evalSet.sha256, minImprovement],
        stdin: key.publicKeyOpenssh.apply((k) => `${k.trim()}\n`),
        uses: productionUses,
        triggers: [args.modelRoot, args.keepVersions, evalSet.sha256, minImprovement],
        after: [run.installed, ...(args.after ?? [])],
      }),
    );

    // Development side: the working repo (deploy key, post-commit hook), then per production
    // machine a step that puts its host key in the repo's known_hosts and one that makes the
    // repo push to git@<it> (and hands it the live model), so adding a machine only adds steps;
    // removing one takes it out of the push list and its key out of known_hosts. When every
    // production machine's host key is known, the pushes check them (StrictHostKeyChecking=yes);
    // otherwise the unknown ones are trusted on first use (accept-new) and the known ones checked.
    this.hostKeyChecking = args.production.every((h) => h.hostKey !== undefined) ? "yes" : "accept-new";
    const development = devRun.run(names.child("development"), "promotion/setup-development.sh", {
      args: [repoDir],
      env: this.hostKeyChecking === "yes" ? { PROMOTION_STRICT_HOST_KEYS: "yes" } : {},
      stdin: key.privateKeyOpenssh,
      secretStdin: true,
      uses: promotionFiles,
    });
    const knownHosts = args.production.map((h) => {
      if (h.hostKey === undefined) return undefined;
      const address = pulumi.output(h.privateAddress);
      return devRun.run(names.child("known-host", h), "promotion/known-host.sh", {
        args: ["add", repoDir, address],
        undo: { script: "promotion/known-host.sh", args: ["remove", repoDir, address] },
        // A host key is public: the line goes on stdin (no quoting), not as a secret.
        stdin: pulumi.output(h.hostKey).apply((k) => `${k.trim()}\n`),
        // A new key (a rebuilt machine) rewrites the line in place (an update); a new
        // address or development machine replaces the step, removing the old line first.
        triggers: [address],
        scriptHashLast: true,
        after: [development],
        opts: { deleteBeforeReplace: true },
      });
    });
    const targets = args.production.map((h, i) => {
      const target = pulumi.interpolate`git@${h.privateAddress}`;
      const knownHost = knownHosts[i];
      return devRun.run(names.child("target", h), "promotion/target.sh", {
        args: ["add", repoDir, target],
        undo: { script: "promotion/target.sh", args: ["remove", repoDir, target] },
        peers: [h],
        uses: ["promotion/target.sh", "promotion/lib/dev.sh"],
        // Replaced (a new production machine, development machine or target.sh): the old step's
        // delete takes the push URL out, so it runs first and the new step's create puts it back
        // (create-before-delete would leave the machine out of every later push).
        after: [development, production[i], ...(knownHost ? [knownHost] : [])],
        opts: { deleteBeforeReplace: true },
      });
    });

    let ready: pulumi.Resource = development;
    if (targets.length) ready = targets[targets.length - 1];
    if (args.initialModel) {
      const initial = devRun.run(names.child("promote-initial"), "host/promote-once.sh", {
        args: [repoDir, args.initialModel.dir],
        uses: [],
        triggers: [args.initialModel.version],
        after: [development, ...targets, ...args.initialModel.after],
      });
      this.initialVersion = pulumi.output(args.initialModel.version);
      ready = initial;
    }
    this.ready = ready;

    const viaSsh = (cmd: string) => pulumi.interpolate`${args.developmentSsh} sudo bash ${REMOTE_CURRENT}/${cmd}`;
    this.promoteCommand = viaSsh(`promotion/promote.sh ${repoDir} <model-dir-on-the-head>`);
    this.rollbackCommand = viaSsh(`promotion/rollback.sh ${repoDir} [<version>]`);
    const t = args.train;
    const trainFlags = `--trials ${t.trials} --time-budget ${t.timeBudgetSeconds} --seed ${t.seed}`;
    this.trainCommand = args.rayAddress
      ? pulumi.interpolate`${args.developmentSsh} sudo bash ${REMOTE_CURRENT}/promotion/train-promote.sh ${repoDir} ${args.rayAddress} ${trainFlags}`
      : pulumi.output("no Ray cluster address given: tune on the head, then use promoteCommand");
    const port = args.servingPort ?? 8080;
    const urls = pulumi.all(args.production.map((h) => pulumi.interpolate`http://${h.privateAddress}:${port}`));
    this.modelsCommand = pulumi.interpolate`${args.developmentSsh} bash ${REMOTE_CURRENT}/promotion/models.sh ${urls.apply((u) => u.join(" "))}`;
    this.repoDir = repoDir;
    this.registerOutputs({
      deployPublicKey: this.deployPublicKey,
      deployPrivateKey: this.deployPrivateKey,
      promoteCommand: this.promoteCommand,
      rollbackCommand: this.rollbackCommand,
      trainCommand: this.trainCommand,
      modelsCommand: this.modelsCommand,
      initialVersion: this.initialVersion,
    });
  }
}
