/**
 * The machines a stack asks for (openstack and local): names, roles and fixed private addresses,
 * computed from config alone so previews show real addresses. Every role has its own block of
 * the subnet (stacks/network.ts), so adding machines of one role never moves another's address.
 */
import type { PlatformConfig } from "./config";
import { addressAt, parseCidr, roleBlocks } from "./network";
import type { Role } from "./schema";

export { addressAt, FIRST_HOST } from "./network";

export interface PlannedMachine {
  /** `${stack}-${role}` or `${stack}-${role}-${i}`: also the hostname. */
  readonly name: string;
  /** `${role}` or `${role}-${i}`: the machine in logical names (components/core/names.ts). */
  readonly key: string;
  readonly role: Role;
  /** Index among machines of the same role. */
  readonly index: number;
  readonly privateAddress: string;
}

export function plannedMachines(cfg: PlatformConfig): PlannedMachine[] {
  const cidr = cfg.networkCidr;
  const net = parseCidr(cidr);
  if (!net) throw new Error(`plannedMachines: ${cidr} is not a network CIDR (validated by stacks/config)`);
  const blocks = roleBlocks(net.prefix);
  const out: PlannedMachine[] = [];
  const add = (role: Role, count: number, single: boolean) => {
    if (count > blocks[role].size)
      throw new Error(`plannedMachines: ${count} ${role} machines do not fit in ${cidr} (validated by stacks/config)`);
    for (let i = 0; i < count; i++) {
      const key = single ? role : `${role}-${i}`;
      out.push({
        name: `${cfg.stack}-${key}`,
        key,
        role,
        index: i,
        privateAddress: addressAt(cidr, blocks[role].first + i),
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
