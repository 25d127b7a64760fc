/**
 * Rules across keys: what one key's value allows another to be. Each adds its problems to the
 * reader's list, in the same one-line form as a single key's.
 */
import type { Role } from "../../components/core/roles";
import { describeBlock, parseCidr, roleBlocks } from "../network";
import { countOf, duplicateName, inventoryProblems } from "./inventory";
import { KeyName, PROJECT } from "./keys";
import type { Reader, Values } from "./reader";
import type { InventoryHost } from "./types";

/** A public key is only useful with its private key: the deployment logs in with it. */
export function sshKeyRules(r: Reader, c: Values): void {
  if (c.sshPublicKey !== undefined && !r.has("sshPrivateKey"))
    r.problems.push(
      `${PROJECT}:sshPrivateKey must be set when ${PROJECT}:sshPublicKey is (got nothing): the deployment logs in with the matching private key`,
    );
}

/** Every role has a fixed block of the subnet (stacks/network.ts): its machine count must fit in it. */
export function networkRules(r: Reader, c: Values): void {
  const net = parseCidr(c.networkCidr);
  if (!net || c.environment === "existing") return;
  const blocks = roleBlocks(net.prefix);
  const fits: [KeyName, number, Role][] = [
    ["rayWorkers", c.rayWorkers, "ray-worker"],
    ["swarmManagers", c.swarmManagers, "swarm-manager"],
    ["swarmWorkers", c.swarmWorkers, "swarm-worker"],
  ];
  for (const [key, count, role] of fits) {
    if (count > blocks[role].size)
      r.fail(
        key,
        `at most ${blocks[role].size} in networkCidr ${c.networkCidr} (the ${role} block is ${describeBlock(c.networkCidr, blocks[role])})`,
        count,
        "use a larger networkCidr (e.g. a /24) or fewer machines",
      );
  }
}

export function servingRules(r: Reader, c: Values): void {
  if (c.endpointMode === "dnsrr" && c.publishMode === "ingress" && r.has("endpointMode"))
    r.fail(
      "publishMode",
      "host when endpointMode is dnsrr",
      c.publishMode,
      "Swarm cannot publish a dnsrr service through the ingress routing mesh",
    );
}

/** The existing inventory as a whole, and what it allows (monitoring needs an orchestration machine). */
export function inventoryRules(r: Reader, c: Values, hosts: readonly InventoryHost[] | undefined): void {
  if (c.environment !== "existing" || hosts === undefined) return;
  r.problems.push(...inventoryProblems(hosts, PROJECT));
  // Prometheus and Alertmanager live on the orchestration machine.
  if (duplicateName(hosts) === undefined && c.monitoring && countOf(hosts, "orchestration") === 0)
    r.fail(
      "monitoring",
      `false when ${PROJECT}:hosts has no orchestration machine`,
      true,
      "Prometheus and Alertmanager run on the orchestration machine: give one machine the orchestration role, or set monitoring false",
    );
}
