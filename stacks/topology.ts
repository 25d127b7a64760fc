/**
 * The machines a stack asks for (openstack and local): names, roles and fixed private addresses,
 * computed from config alone so previews show real addresses.
 */
import type { PlatformConfig } from "./config";
import { parseCidr } from "./config";
import type { Role } from "./schema";

export interface PlannedMachine {
  /** `${stack}-${role}` or `${stack}-${role}-${i}`: also the hostname. */
  readonly name: string;
  readonly role: Role;
  /** Index among machines of the same role. */
  readonly index: number;
  readonly privateAddress: string;
}

/** First host number used inside the subnet (lower ones are left to the router/DHCP). */
export const FIRST_HOST = 10;

export function addressAt(cidr: string, hostNumber: number): string {
  const net = parseCidr(cidr);
  if (!net) throw new Error(`addressAt: ${cidr} is not a network CIDR`);
  const n = net.base + hostNumber;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
}

export function plannedMachines(cfg: PlatformConfig): PlannedMachine[] {
  const out: PlannedMachine[] = [];
  const add = (role: Role, count: number, single: boolean) => {
    for (let i = 0; i < count; i++) {
      out.push({
        name: single ? `${cfg.stack}-${role}` : `${cfg.stack}-${role}-${i}`,
        role,
        index: i,
        privateAddress: addressAt(cfg.openstack.networkCidr, FIRST_HOST + out.length),
      });
    }
  };
  add("orchestration", 1, true);
  add("ray-head", 1, true);
  add("ray-worker", cfg.counts.rayWorkers, false);
  add("swarm-manager", cfg.counts.swarmManagers, false);
  add("swarm-worker", cfg.counts.swarmWorkers, false);
  return out;
}
