/**
 * Running named scripts on Hosts: the one place a component's remote steps are made.
 *
 * A component asks `scripts.on(host, this, who)` for a HostRunner and then
 * `runner.run(name, "host/swarm-join.sh", { args, stdin, after, triggers })`. The runner works out
 * what every step needs and no component repeats: the connection, the triggers (the host's
 * identity, the hash of the script and the shared library it uses, then the step's own values),
 * the options (no previous output in the environment, stdin drained by every command:
 * components/remote.ts remoteCommand), waiting for the scripts to be installed on that host, and
 * the "no scripts installed on this host" error. Undo steps that must survive script edits are
 * `runner.undo(...)`: separate resources whose inputs never carry a script hash (remote.ts lifecycle).
 *
 * The trigger lists are what deployed stacks hold: their order and content are frozen (a changed
 * trigger replaces the step, which runs it again and runs the old one's delete), so the options
 * below (peers, about, scriptHashLast, uses) say where each value goes instead of reordering.
 * tests/unit/resource-graph.test.ts holds every step's triggers as data.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Host } from "./host";
import { ChildNames, nameOf, StepName, withAliases } from "./core/names";
import { BundleFile, bundleInstaller, stdinInstaller, hashOf, lifecycle, remoteCommand, REMOTE_ROOT, scriptCommand } from "./remote";

type Word = pulumi.Input<string | number>;

/** A set of scripts installed on hosts: how a command line calls one, and what a script's trigger is. */
export interface ScriptSet {
  /** The command line that runs `script` (a path inside the set) with `words` as root. */
  commandLine(script: string, words: readonly (string | number)[], env?: Readonly<Record<string, string | number>>): string;
  /**
   * The trigger of `script`: the hash of the files it uses (`uses` when given, else the set's
   * default for it); undefined when the step carries no script hash.
   */
  hashOf(script: string, uses?: readonly string[]): string | undefined;
}

/**
 * The main bundle (scripts/host, scripts/promotion, the tuning workload) under /opt/rayswarm/current:
 * a `host/` script's hash covers it and host/common.sh (which every one of them sources), any
 * other script's only itself; a step that uses more names its files (`uses`).
 */
export class BundleScripts implements ScriptSet {
  /** The bundle's content hash (the folder it is installed in). */
  public readonly hash: string;
  constructor(public readonly files: readonly BundleFile[]) {
    this.hash = hashOf(files);
  }
  commandLine(script: string, words: readonly (string | number)[], env: Readonly<Record<string, string | number>> = {}): string {
    return scriptCommand(script, words, env);
  }
  hashOf(script: string, uses?: readonly string[]): string | undefined {
    if (uses && uses.length === 0) return undefined;
    return hashOf(this.files, uses ?? (script.startsWith("host/") ? ["host/common.sh", script] : [script]));
  }
  /** The hash of some of the bundle's files (a trigger shared by several steps). */
  filesHash(paths: readonly string[]): string {
    return hashOf(this.files, paths);
  }
  /** A file of the bundle (e.g. `tuning/requirements.txt`). */
  file(p: string): BundleFile | undefined {
    return this.files.find((f) => f.path === p);
  }
}

/** One remote step of a runner. */
export interface StepArgs {
  /** Fed to every command of the step on stdin (secrets go here, never into argv). */
  readonly stdin?: pulumi.Input<string>;
  /** Keep the step's stdin secret in the state too (additionalSecretOutputs). */
  readonly secretStdin?: boolean;
  /** Trigger values after the host's identity, its peers' and the script's hash. */
  readonly triggers?: readonly Word[];
  /** Other hosts whose replacement re-runs the step: their identities follow the host's. */
  readonly peers?: readonly Host[];
  /**
   * The host the step configures when it runs on this runner's host (a swarm label set from the
   * manager): its identity leads the triggers, the running host's follows.
   */
  readonly about?: Host;
  /** What the step waits for. Default: the scripts installed on the host. */
  readonly after?: readonly pulumi.Resource[];
  /** Default: stderr (stdout is the step's result; `none` when stdout holds secrets). */
  readonly logging?: "stderr" | "none";
  /** Engine options of the step. */
  readonly opts?: Pick<pulumi.CustomResourceOptions, "deleteBeforeReplace" | "ignoreChanges" | "additionalSecretOutputs">;
}

export interface RunArgs extends StepArgs {
  /** Words after the script (Outputs allowed; each is quoted for the shell). */
  readonly args?: readonly Word[];
  /** Environment of the script (plain values, on its command line). */
  readonly env?: Readonly<Record<string, string | number>>;
  /** The files the script's hash covers instead of the set's default; [] = no script hash in the triggers. */
  readonly uses?: readonly string[];
  /** The script's hash goes after `triggers` (the order some deployed steps have). */
  readonly scriptHashLast?: boolean;
  /** Run on delete: another script of the set with its words (e.g. `remove` what create made). */
  readonly undo?: { readonly script: string; readonly args?: readonly Word[] };
}

export interface CommandArgs extends StepArgs {
  /** A command line of its own (not a script of the set), e.g. a program fed on stdin. */
  readonly create: pulumi.Input<string>;
  readonly delete?: pulumi.Input<string>;
}

/** The command line of `script` with words that may be Outputs. */
function lineOf(
  set: ScriptSet,
  script: string,
  words: readonly Word[],
  env?: Readonly<Record<string, string | number>>,
): pulumi.Output<string> {
  return pulumi.all(words as Word[]).apply((w) => set.commandLine(script, w, env));
}

/** Runs a set's scripts on one host, as children of one component. */
export class HostRunner {
  constructor(
    public readonly host: Host,
    public readonly set: ScriptSet,
    /** The step that installed the set on the host. */
    public readonly installed: pulumi.Resource,
    private readonly parent: pulumi.Resource,
  ) {}

  /** The trigger of a script of the set (see ScriptSet.hashOf). */
  scriptHash(script: string, uses?: readonly string[]): string | undefined {
    return this.set.hashOf(script, uses);
  }

  /** `script` with `args` as a step named `name`. */
  run(name: StepName, script: string, a: RunArgs = {}): command.remote.Command {
    const hash = this.set.hashOf(script, a.uses);
    const own = [...(a.triggers ?? [])];
    const values = hash === undefined ? own : a.scriptHashLast ? [...own, hash] : [hash, ...own];
    return this.step(
      name,
      a,
      lineOf(this.set, script, a.args ?? [], a.env),
      a.undo && lineOf(this.set, a.undo.script, a.undo.args ?? []),
      values,
    );
  }

  /** A command line of its own (a program fed on stdin) as a step named `name`. */
  command(name: StepName, a: CommandArgs): command.remote.Command {
    return this.step(name, a, a.create, a.delete, [...(a.triggers ?? [])]);
  }

  /**
   * A step that only undoes: created as a no-op, its delete runs `script` (scale-in, destroy).
   * Its inputs carry no script hash, so editing scripts never replaces (and so runs) it.
   */
  undo(
    name: StepName,
    script: string,
    a: { readonly args?: readonly (string | number)[]; readonly after?: readonly pulumi.Resource[] } = {},
  ) {
    return lifecycle(
      nameOf(name),
      this.host.connection,
      this.set.commandLine(script, a.args ?? []),
      withAliases(name, { parent: this.parent, dependsOn: [...(a.after ?? [this.installed])] }),
    );
  }

  /** Copies a file to the host (image tarballs), re-copied when `triggers` change. */
  copy(
    name: StepName,
    a: {
      readonly source: pulumi.asset.Asset;
      readonly remotePath: string;
      readonly triggers: readonly Word[];
      readonly after?: readonly pulumi.Resource[];
    },
  ): command.remote.CopyToRemote {
    return new command.remote.CopyToRemote(
      nameOf(name),
      { connection: this.host.connection, source: a.source, remotePath: a.remotePath, triggers: [this.host.identity, ...a.triggers] },
      withAliases(name, { parent: this.parent, dependsOn: [...(a.after ?? [this.installed])] }),
    );
  }

  private step(
    name: StepName,
    a: StepArgs,
    create: pulumi.Input<string>,
    del: pulumi.Input<string> | undefined,
    values: readonly Word[],
  ): command.remote.Command {
    const identities = [...(a.about ? [a.about.identity] : []), this.host.identity, ...(a.peers ?? []).map((p) => p.identity)];
    const secret = a.secretStdin ? ["stdin"] : [];
    const extra = [...(a.opts?.additionalSecretOutputs ?? []), ...secret.filter((s) => !a.opts?.additionalSecretOutputs?.includes(s))];
    return remoteCommand(
      nameOf(name),
      {
        connection: this.host.connection,
        create,
        ...(del !== undefined ? { delete: del } : {}),
        ...(a.stdin !== undefined ? { stdin: a.secretStdin ? pulumi.secret(a.stdin) : a.stdin } : {}),
        triggers: [...identities, ...values],
        logging: a.logging ?? "stderr",
      },
      withAliases(name, {
        parent: this.parent,
        dependsOn: [...(a.after ?? [this.installed])],
        ...(a.opts?.deleteBeforeReplace ? { deleteBeforeReplace: true } : {}),
        ...(a.opts?.ignoreChanges ? { ignoreChanges: a.opts.ignoreChanges } : {}),
        ...(extra.length ? { additionalSecretOutputs: extra } : {}),
      }),
    );
  }
}

/** A script set installed on hosts (by host name): hands out their runners. */
export class HostScripts<S extends ScriptSet = ScriptSet> {
  constructor(
    public readonly set: S,
    private readonly installed: Readonly<Record<string, pulumi.Resource>>,
  ) {}

  /** Whether the set is installed on `host`. */
  has(host: Host): boolean {
    return host.name in this.installed;
  }

  /**
   * The runner of `host` for steps parented under `parent`; `who` names the component in the
   * error when the set is not installed on that host.
   */
  on(host: Host, parent: pulumi.Resource, who: string): HostRunner {
    const installed = this.installed[host.name];
    if (!installed)
      throw new pulumi.ResourceError(
        `${who}: the scripts are not installed on host ${host.name} (installed on: ${Object.keys(this.installed).join(", ") || "none"})`,
        parent,
      );
    return new HostRunner(host, this.set, installed, parent);
  }

  /** The step that installed the set on `host`. */
  installedOn(host: Host): pulumi.Resource | undefined {
    return this.installed[host.name];
  }
}

/**
 * Installs the main bundle on every host (in parallel, each after its readiness): one step per
 * host named `bundle-<host key>` by `names`, parented under `parent`; the bundle's folder is its hash.
 */
export function installBundles(
  names: ChildNames,
  hosts: readonly Host[],
  files: readonly BundleFile[],
  parent: pulumi.Resource,
): HostScripts<BundleScripts> {
  const set = new BundleScripts(files);
  const installed: Record<string, pulumi.Resource> = {};
  for (const h of hosts)
    installed[h.name] = new HostRunner(h, set, h.ready, parent).command(names.child("bundle", h), {
      create: stdinInstaller(`${REMOTE_ROOT}/bundles`),
      stdin: bundleInstaller(files, set.hash),
      triggers: [set.hash],
      after: [h.ready],
    });
  return new HostScripts(set, installed);
}
