/**
 * Logical names: short, and never the stack's (a resource's URN already holds the stack), yet
 * unique in the stack, so a line of `pulumi up`'s output names one resource:
 *   - a component made once per stack is named by what it is (`platform`, `raycluster`, `swarm`,
 *     `serving`, `openstack`, `network`); the parts of the platform prefix their children with
 *     their name (`raycluster-install-ray-head`, `swarm-init`), as pulumi-awsx components do;
 *   - an environment names what it makes by part (`net`, `ssh`) or by machine (`ray-head`,
 *     `ray-head-ready`), and an OpenStack Machine its own children by its key (`ray-head-port`);
 *   - a machine appears in names by its key (Host.key: `swarm-worker-0`), never by its machine
 *     name (`dev-swarm-worker-0`, the hostname).
 *
 * Until 73e9b66 every name started with the stack and repeated the parent's name
 * (`dev-raycluster-install-dev-ray-head`). Each renamed resource carries its former name as an
 * alias, so a deployed stack neither replaces nor deletes anything (tests/e2e: the upgrade
 * preview; tests/openstack: the same ids). A component learns its own former names from the
 * aliases its parent gave it (`formerNames(opts)`); its children's former names follow from them.
 */
import * as pulumi from "@pulumi/pulumi";

/** What names a machine: its key in logical names, its machine name (the hostname) in former ones. */
export interface Named {
  /** The machine's key, e.g. `swarm-worker-0`. */
  readonly key: string;
  /** The machine name, e.g. `dev-swarm-worker-0`: the host part of the names until 73e9b66. */
  readonly name: string;
}

/** A child's logical name and its aliases (the names it had before). */
export interface ChildName {
  readonly name: string;
  readonly aliases: pulumi.Input<pulumi.URN | pulumi.Alias>[];
}

/** A step's name: a plain string (no former name), or a ChildName. */
export type StepName = string | ChildName;

export function nameOf(n: StepName): string {
  return typeof n === "string" ? n : n.name;
}

export function aliasesOf(n: StepName): pulumi.Input<pulumi.URN | pulumi.Alias>[] {
  return typeof n === "string" ? [] : n.aliases;
}

/** `opts` with the aliases of `n` added to any it has. */
export function withAliases<T extends pulumi.ResourceOptions>(n: StepName, opts: T): T {
  const more = aliasesOf(n);
  return more.length ? { ...opts, aliases: [...(opts.aliases ?? []), ...more] } : opts;
}

/** The former names a component was given (the `name` of each alias of `opts` that has one). */
export function formerNames(opts: pulumi.ResourceOptions | undefined): string[] {
  const names: string[] = [];
  for (const a of opts?.aliases ?? []) {
    const n = typeof a === "object" && a !== null && "name" in a ? (a as pulumi.Alias).name : undefined;
    if (typeof n === "string" && !names.includes(n)) names.push(n);
  }
  return names;
}

/** Aliases from former names (under the child's current parent). */
export function aliasesFrom(former: readonly string[], now: string): pulumi.Alias[] {
  return former.filter((f) => f !== now).map((name) => ({ name }));
}

/**
 * How one component names its children. `prefix`: the component's own name when its children
 * carry it (`<prefix>-<part>`: the platform's parts, an OpenStack Machine); none when they are
 * named by part alone (the environments' children, a network's). `former`: the component's
 * former names; a child's former name was `<former>-<part>` with the machine's name where the
 * key is now.
 */
export class ChildNames {
  constructor(
    private readonly former: readonly string[],
    private readonly prefix?: string,
  ) {}

  /** Names of a component's children, from its own name and options (its aliases: its former names). */
  static of(opts: pulumi.ResourceOptions | undefined, prefix?: string): ChildNames {
    return new ChildNames(formerNames(opts), prefix);
  }

  /** The name and options of a child `part` under `parent`: `opts` with its former names as aliases. */
  under<T extends pulumi.ResourceOptions>(parent: pulumi.Resource, part: string, opts?: T): readonly [string, T] {
    const n = this.child(part);
    return [n.name, withAliases(n, { ...opts, parent } as T)];
  }

  /** `<part>[-<host key>][-<tail>]`, formerly `<former>-<part>[-<machine name>][-<tail>]`. */
  child(part: string, host?: Named, tail?: string): ChildName {
    const join = (...w: (string | undefined)[]) => w.filter((x) => x !== undefined && x !== "").join("-");
    const name = join(this.prefix, part, host?.key, tail);
    return {
      name,
      aliases: aliasesFrom(
        this.former.map((f) => join(f, part, host?.name, tail)),
        name,
      ),
    };
  }
}

/**
 * A child named after a machine alone (`<key>[-<suffix>]`, formerly `<machine name>[-<suffix>]`),
 * as an environment names what it makes per machine (`ray-head`, `ray-head-host-key`).
 */
export function machineChild(host: Named, suffix?: string): ChildName {
  const tail = suffix ? `-${suffix}` : "";
  const name = `${host.key}${tail}`;
  return { name, aliases: aliasesFrom([`${host.name}${tail}`], name) };
}
