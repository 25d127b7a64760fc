// index.ts composes the whole platform for the prod stack (one file per stack: index.ts is a module
// with side effects, required once per jest module registry).
import { runProgram, stackConfig, unwrap } from "./support/harness";

test("index.ts builds every layer of the prod stack and exports its outputs", async () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const run = await runProgram("prod", stackConfig("prod"), () => require("../../index"));
  const types = new Set(run.resources.map((r) => r.type));
  for (const t of [
    "rayswarm:platform:Platform",
    "rayswarm:openstack:ClusterNetwork",
    "rayswarm:openstack:SecurityGroups",
    "rayswarm:openstack:Machine",
    "rayswarm:ray:RayCluster",
    "rayswarm:swarm:SwarmCluster",
    "rayswarm:serving:ServingStack",
    "rayswarm:promotion:ModelPromotion",
  ])
    expect(types).toContain(t);
  const exported = Object.keys(run.outputs).sort();
  expect(exported).toEqual(
    [
      "bastionAddress",
      "environmentKind",
      "jupyterTunnel",
      "modelVersion",
      "privateAddresses",
      "promoteCommand",
      "rayDashboardTunnel",
      "rayHeadAddress",
      "rollbackCommand",
      "sshCommands",
      "sshPrivateKey",
      "swarmNodes",
      "webUrl",
    ].sort(),
  );
  expect((await unwrap(run.outputs.sshPrivateKey as never)).secret).toBe(true);
  expect(run.outputs.environmentKind).toBe("openstack");
});
