/**
 * Fake Hosts for component tests: what a component knows of a machine (components/core/host.ts),
 * with nothing behind it but mocked resources. `ready` is a mocked local command named
 * `<host>-ready`; `fakeScripts` stands for the bundle installed on the hosts (a mocked
 * `<host>-scripts` step per host) with the repository's real bundle files, so script hashes
 * and command lines are the program's own.
 */
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { Role } from "../../../components/core/roles";
import type { Host } from "../../../components/host";
import { sshConnection } from "../../../components/host";
import { readBundle } from "../../../components/remote";
import { BundleScripts, HostScripts } from "../../../components/runner";
import { RunResult, runProgram, unwrap } from "./harness";

export interface FakeHostOptions {
  /** Private address. Default: 10.0.0.<n> from the host's position in its test. */
  readonly address?: string;
  /** Its SSH host key (`ssh-ed25519 …`); absent: not known. */
  readonly hostKey?: string;
  readonly publicAddress?: string;
  /** Its key in logical names. Default: its name. */
  readonly key?: string;
}

let counter = 0;

/** A Host with the given roles: identity `<name>-id`, connection as root to its address. */
export function fakeHost(name: string, roles: readonly Role[], o: FakeHostOptions = {}): Host {
  const address = o.address ?? `10.0.0.${++counter}`;
  const ready = new command.local.Command(`${name}-ready`, { create: "true" });
  return {
    name,
    key: o.key ?? name,
    roles,
    privateAddress: address,
    user: "root",
    connection: sshConnection({ host: address, user: "root", privateKey: `fake-key-of-${name}`, hostKey: o.hostKey }),
    identity: `${name}-id`,
    ready,
    sshCommand: `ssh root@${address}`,
    publicAddress: o.publicAddress,
    hostKey: o.hostKey,
  };
}

/** Fake hosts `<prefix>-0 … <prefix>-<n-1>` of one role. */
export function fakeHosts(prefix: string, role: Role, n: number): Host[] {
  return Array.from({ length: n }, (_, i) => fakeHost(`${prefix}-${i}`, [role]));
}

/** The repository's bundle as installed on `hosts`: one mocked `<host>-scripts` step each, after the host's readiness. */
export function fakeScripts(hosts: readonly Host[]): HostScripts<BundleScripts> {
  const installed: Record<string, pulumi.Resource> = {};
  for (const h of hosts) installed[h.name] = new command.local.Command(`${h.name}-scripts`, { create: "true" }, { dependsOn: [h.ready] });
  return new HostScripts(new BundleScripts(BUNDLE), installed);
}

/** Read once per test file: the bundle is the repository's. */
const BUNDLE = readBundle();

/** Runs `build` (which makes fake hosts and one component) under the mocks; its return value becomes the outputs. */
export function runComponent(build: () => Record<string, unknown> | void): Promise<RunResult> {
  counter = 0;
  return runProgram("test", {}, () => build() ?? {});
}

/**
 * The error `build` throws while making its component (an argument check), caught inside the
 * program so the run itself ends normally; undefined when it makes the component.
 */
export async function componentError(build: () => void): Promise<Error | undefined> {
  let error: Error | undefined;
  await runComponent(() => {
    try {
      build();
    } catch (e) {
      error = e as Error;
    }
  });
  return error;
}

/** The resolved value of a recorded resource's input, and whether it is secret. */
export async function input(run: RunResult, name: string, key: string): Promise<{ value: unknown; secret: boolean }> {
  return unwrap(run.byName(name).props[key] as pulumi.Input<unknown>);
}

/** The resolved triggers of a step. */
export async function triggersOf(run: RunResult, name: string): Promise<unknown[]> {
  return (await input(run, name, "triggers")).value as unknown[];
}

/** Whether `a` waits for `b` (directly or through others). */
export function waitsFor(run: RunResult, a: string, b: string): boolean {
  return run.dependsOnTransitively(run.byName(a)).has(run.byName(b));
}

/** The names of the remote commands whose name matches `re`. */
export function stepsMatching(run: RunResult, re: RegExp): string[] {
  return run
    .ofType("command:remote:Command")
    .map((r) => r.name)
    .filter((n) => re.test(n))
    .sort();
}
