/**
 * The `existing` environment's inventory (rayswarm:hosts): the schema of one machine, its
 * defaults, and the rules the list as a whole must follow.
 */
import { z } from "zod";
import { ROLES, Role } from "../../components/core/roles";
import { ipv4 } from "../network";
import { hostKeyLine, structured } from "./values";
import type { InventoryHost } from "./types";

const hostname = z
  .string()
  .regex(/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/);

/** Every issue of a field says what the field must be. */
const must = (error: string) => ({ error });
const roles = `a list of roles from ${ROLES.join(", ")}`;
const port = "a port from 1 to 65535";

const hostSchema = z.strictObject(
  {
    name: z
      .string(must("a lowercase DNS label (a-z, 0-9, -)"))
      .regex(/^[a-z][a-z0-9-]{0,30}[a-z0-9]$/, must("a lowercase DNS label (a-z, 0-9, -)")),
    address: z.union([ipv4, hostname], must("an IPv4 address or a hostname")),
    /** Address inside the cluster network. Default: address. */
    privateAddress: z
      .string(must("an IPv4 address"))
      .refine((v) => ipv4.safeParse(v).success, must("an IPv4 address"))
      .optional(),
    port: z.number(must(port)).int(must(port)).min(1, must(port)).max(65535, must(port)).default(22),
    /** Default: rayswarm:sshUser. */
    user: z
      .string(must("a Unix user name"))
      .regex(/^[a-z_][a-z0-9_-]*$/, must("a Unix user name"))
      .optional(),
    roles: z.array(z.enum(ROLES, must(roles)), must(roles)).min(1, must(roles)),
    hostKey: hostKeyLine.optional(),
  },
  {
    error: (issue) =>
      issue.code === "unrecognized_keys"
        ? `an object with only name, address, privateAddress, port, user, roles (unknown: ${issue.keys.join(", ")})`
        : "an object {name, address, roles}",
  },
);

export type HostEntry = z.output<typeof hostSchema>;

export const inventory = structured<HostEntry[]>(
  "a list of {name, address, roles, user?, port?, privateAddress?, hostKey?}",
  z.array(hostSchema, must("a list of {name, address, roles}")) as unknown as z.ZodType<HostEntry[]>,
);

/** The machines with their defaults filled in. */
export function inventoryHosts(entries: readonly HostEntry[], sshUser: string): InventoryHost[] {
  return entries.map((v) => ({
    name: v.name,
    address: v.address,
    privateAddress: v.privateAddress ?? v.address,
    port: v.port,
    user: v.user ?? sshUser,
    roles: [...new Set(v.roles)],
    hostKey: v.hostKey,
  }));
}

export const countOf = (hosts: readonly InventoryHost[], role: Role) => hosts.filter((h) => h.roles.includes(role)).length;

/** A name two machines share, if any. */
export function duplicateName(hosts: readonly InventoryHost[]): string | undefined {
  const names = hosts.map((h) => h.name);
  return names.find((n, i) => names.indexOf(n) !== i);
}

/** What the list as a whole must satisfy (each problem a full message). */
export function inventoryProblems(hosts: readonly InventoryHost[], project: string): string[] {
  const dup = duplicateName(hosts);
  if (dup !== undefined) return [`${project}:hosts names must be unique (got ${JSON.stringify(dup)} twice)`];
  const problems: string[] = [];
  const count = (role: Role) => countOf(hosts, role);
  if (count("ray-head") !== 1) problems.push(`${project}:hosts must have exactly one ray-head (got ${count("ray-head")})`);
  if (count("swarm-manager") % 2 === 0)
    problems.push(
      `${project}:hosts must have an odd number of swarm-manager machines (got ${count("swarm-manager")}): an even manager count cannot keep Raft quorum`,
    );
  if (count("orchestration") > 1)
    problems.push(`${project}:hosts must have at most one orchestration machine (got ${count("orchestration")})`);
  return problems;
}
