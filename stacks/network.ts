/**
 * IPv4 maths for the cluster network, and the fixed address block of every role.
 *
 * Each role owns a block of the subnet that depends only on the subnet's size, never on how many
 * machines another role has, so scaling one role never moves another role's addresses:
 *
 *   .10 orchestration, .11 ray-head, .12–.19 swarm managers (at most 7 by config),
 *   then the rest (up to the broadcast address) split in two halves: Ray workers, Swarm workers.
 *
 * For a /24 that is Ray workers .20–.136 and Swarm workers .137–.253; for a /27, .20–.24 and .25–.29.
 */
import { z } from "zod";
import type { Role } from "./schema";

export const ipv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/);
const cidrRe = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/;

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

/** `{ base, prefix }` of a network CIDR, or undefined when it is not one (host bits set, bad syntax). */
export function parseCidr(cidr: string): { base: number; prefix: number } | undefined {
  const m = cidrRe.exec(cidr);
  if (!m || !ipv4.safeParse(m[1]).success) return undefined;
  const prefix = Number(m[2]);
  if (prefix > 32) return undefined;
  const base = ipToInt(m[1]);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((base & mask) >>> 0 !== base) return undefined; // host bits set: 10.0.0.1/24
  return { base, prefix };
}

export function isPrivate(base: number, prefix: number): boolean {
  const inRange = (net: string, p: number) => prefix >= p && ((base >>> (32 - p)) << (32 - p)) >>> 0 === ipToInt(net);
  return inRange("10.0.0.0", 8) || inRange("172.16.0.0", 12) || inRange("192.168.0.0", 16);
}

/** The address `hostNumber` places above the network address. */
export function addressAt(cidr: string, hostNumber: number): string {
  const net = parseCidr(cidr);
  if (!net) throw new Error(`addressAt: ${cidr} is not a network CIDR`);
  return intToIp(net.base + hostNumber);
}

/** A role's block: host numbers `first` .. `first + size - 1`. */
export interface AddressBlock {
  readonly first: number;
  readonly size: number;
}

/** First host number used inside the subnet (lower ones are left to the router/DHCP). */
export const FIRST_HOST = 10;
const MANAGER_BLOCK = 8;
const WORKERS_FROM = FIRST_HOST + 2 + MANAGER_BLOCK;

/** The block of every role in a subnet of this prefix length. */
export function roleBlocks(prefix: number): Record<Role, AddressBlock> {
  const last = 2 ** (32 - prefix) - 2; // below the broadcast address
  const half = Math.max(0, Math.floor((last - WORKERS_FROM + 1) / 2));
  return {
    orchestration: { first: FIRST_HOST, size: 1 },
    "ray-head": { first: FIRST_HOST + 1, size: 1 },
    "swarm-manager": { first: FIRST_HOST + 2, size: MANAGER_BLOCK },
    "ray-worker": { first: WORKERS_FROM, size: half },
    "swarm-worker": { first: WORKERS_FROM + half, size: half },
  };
}

/** `.20–.136`: a block's range written with the last octet, for messages. */
export function describeBlock(cidr: string, b: AddressBlock): string {
  const lastOctet = (n: number) => addressAt(cidr, n).split(".").pop();
  return b.size === 0 ? "no addresses" : `.${lastOctet(b.first)}–.${lastOctet(b.first + b.size - 1)} (${b.size} addresses)`;
}
