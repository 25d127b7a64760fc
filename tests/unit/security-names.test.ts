/**
 * Security rules are named by what they are (group, protocol, ports, remote), not by their place in
 * the list or their wording; each keeps the name it had up to 03aff1e as an alias, so a deployed
 * stack renames its rules without replacing them.
 */
import * as pulumi from "@pulumi/pulumi";
import { RAY_WORKER_PORTS, RuleSpec, ruleKey, ruleName, topologyRules } from "../../components/openstack";
import { program } from "../../stacks/program";
import { ADMIN_CIDR, RunResult, runProgram, stackConfig } from "./support/harness";

const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const base = { adminCidr: ADMIN_CIDR, clusterCidr: "10.42.0.0/24", servingPort: 8080, rayWorkerPorts: RAY_WORKER_PORTS };

test("a rule's name is its group, protocol, ports and remote", () => {
  const names = topologyRules(base).map(ruleName);
  expect(names).toEqual(
    expect.arrayContaining([
      "bastion-tcp-22-from-203-0-113-0-24",
      "internal-tcp-22-from-bastion",
      "internal-icmp-from-10-42-0-0-24",
      "swarm-tcp-22-from-ray-head",
      "ray-tcp-6379-from-ray",
      "ray-tcp-6380-6381-from-ray",
      "ray-tcp-10002-10999-from-ray",
      "swarm-udp-7946-from-swarm",
      "swarm-esp-from-swarm",
      "serving-tcp-8080-from-anywhere",
      "serving-tcp-8080-from-anywhere-v6",
      "ray-tcp-8090-from-bastion",
    ]),
  );
  expect(new Set(names).size).toBe(names.length);
});

test("inserting a rule, dropping one or rewording one renames no other", () => {
  const rules = topologyRules(base);
  const extra: RuleSpec = {
    group: "ray",
    description: "a new rule",
    protocol: "tcp",
    portMin: 7000,
    portMax: 7000,
    remoteGroup: "ray",
    ethertype: "IPv4",
  };
  const inserted = [extra, ...rules].map(ruleName);
  expect(inserted.slice(1)).toEqual(rules.map(ruleName));
  const reworded = rules.map((r) => ({ ...r, description: `${r.description}, reworded` })).map(ruleName);
  expect(reworded).toEqual(rules.map(ruleName));
  const off = topologyRules({ ...base, overlayEncryption: false }).map(ruleName);
  expect(rules.map(ruleName).filter((n) => !off.includes(n))).toEqual(["swarm-esp-from-swarm"]);
});

describe.each(["dev", "prod"])("the %s stack's rules", (stack) => {
  let run: RunResult;
  beforeAll(async () => {
    run = await runProgram(stack, stackConfig(stack), program);
  });

  test("are named <content> and alias the names they had before (<stack>-<content>, and <stack>-<group>-<description>-<protocol>)", () => {
    const rules = topologyRules({
      ...base,
      adminCidr: String(stackConfig(stack)["rayswarm:adminCidr"]),
      clusterCidr: String(stackConfig(stack)["rayswarm:networkCidr"] ?? "10.42.0.0/24"),
      servingPort: Number(stackConfig(stack)["rayswarm:servingPort"] ?? 8080),
    });
    const made = run.ofType(RULE);
    expect(made.map((r) => r.name).sort()).toEqual(rules.map((r) => ruleName(r)).sort());
    for (const rule of rules) {
      const r = made.find((m) => m.name === ruleName(rule))!;
      expect((r.opts.aliases ?? []).map((a) => (a as pulumi.Alias).name)).toEqual([
        `${stack}-${ruleName(rule)}`,
        `${stack}-${ruleKey(rule)}`,
      ]);
    }
  });
});
