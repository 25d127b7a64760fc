// index.ts composes the whole platform for a stack: shared by index-dev/index-prod tests (one
// file per stack, since index.ts is a module with side effects, required once per registry).
import { runProgram, stackConfig, unwrap } from "./harness";

export const COMPONENTS = [
  "rayswarm:platform:Platform",
  "rayswarm:openstack:ClusterNetwork",
  "rayswarm:openstack:SecurityGroups",
  "rayswarm:openstack:Machine",
  "rayswarm:ray:RayCluster",
  "rayswarm:swarm:SwarmCluster",
  "rayswarm:serving:ServingStack",
  "rayswarm:promotion:ModelPromotion",
  "rayswarm:monitoring:Monitoring",
];

export const OUTPUTS = [
  "bastionAddress",
  "deploy",
  "environmentKind",
  "jupyterTunnel",
  "machines",
  "modelVersion",
  "modelsCommand",
  "monitoringTunnel",
  "monitoringUrl",
  "privateAddresses",
  "promoteCommand",
  "rayDashboardTunnel",
  "rayHeadAddress",
  "rollbackCommand",
  "sshCommands",
  "sshPrivateKey",
  "sshKnownHosts",
  "sshSetup",
  "swarmNodes",
  "trainCommand",
  "webUrl",
];

export async function checkIndex(stack: string, requireIndex: () => unknown): Promise<void> {
  const run = await runProgram(stack, stackConfig(stack), requireIndex);
  const types = new Set(run.resources.map((r) => r.type));
  for (const t of COMPONENTS) expect(types).toContain(t);
  expect(Object.keys(run.outputs).sort()).toEqual([...OUTPUTS].sort());
  expect((await unwrap(run.outputs.sshPrivateKey as never)).secret).toBe(true);
  expect(run.outputs.environmentKind).toBe("openstack");
}
