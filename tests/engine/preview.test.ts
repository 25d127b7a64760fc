/**
 * `pulumi preview` of the dev and prod stacks under the real engine: file backend in a temp
 * dir, dummy OpenStack credentials (the provider authenticates lazily, so nothing is
 * contacted). A stack passes when its preview succeeds and plans exactly the resources below.
 *
 * When the engine is not installed the suite is skipped with the reason, unless
 * RAYSWARM_REQUIRE_ENGINE=1 (CI on machines where scripts/install-pulumi.sh succeeds), where
 * a missing engine fails the suite.
 *
 * Changing the program changes these counts on purpose: run with RAYSWARM_PREVIEW_PRINT=1 to
 * print the planned counts, check them, and update EXPECTED.
 */
import * as fs from "fs";
import { copyProject, countPlannedTypes, engineEnv, engineProblem, pulumi } from "./engine";

type Counts = Record<string, number>;

/** Resources the OpenStack environment plans, per type (providers and the Stack left out). */
const EXPECTED: Record<"dev" | "prod", Counts> = {
  // dev: 5 machines (bastion, Ray head + 1 worker, 1 Swarm manager + 1 worker). The same table
  // as the mock run (tests/unit) produces; update both together (RAYSWARM_PREVIEW_PRINT=1).
  dev: {
    "command:remote:Command": 40,
    "openstack:compute/instance:Instance": 5,
    "openstack:compute/keypair:Keypair": 1,
    "openstack:compute/serverGroup:ServerGroup": 3,
    "openstack:networking/floatingIp:FloatingIp": 2,
    "openstack:networking/floatingIpAssociate:FloatingIpAssociate": 2,
    "openstack:networking/network:Network": 1,
    "openstack:networking/port:Port": 5,
    "openstack:networking/router:Router": 1,
    "openstack:networking/routerInterface:RouterInterface": 1,
    "openstack:networking/secGroup:SecGroup": 5,
    "openstack:networking/secGroupRule:SecGroupRule": 20,
    "openstack:networking/subnet:Subnet": 1,
    "random:index/randomPassword:RandomPassword": 2,
    "rayswarm:openstack:ClusterNetwork": 1,
    "rayswarm:openstack:Machine": 5,
    "rayswarm:openstack:SecurityGroups": 1,
    "rayswarm:platform:Platform": 1,
    "rayswarm:promotion:ModelPromotion": 1,
    "rayswarm:ray:RayCluster": 1,
    "rayswarm:serving:ServingStack": 1,
    "rayswarm:swarm:SwarmCluster": 1,
    "tls:index/privateKey:PrivateKey": 2,
  },
  // prod: 11 machines (3 managers, 3 Swarm workers, 3 Ray workers).
  prod: {
    "command:remote:Command": 86,
    "openstack:compute/instance:Instance": 11,
    "openstack:compute/keypair:Keypair": 1,
    "openstack:compute/serverGroup:ServerGroup": 3,
    "openstack:networking/floatingIp:FloatingIp": 4,
    "openstack:networking/floatingIpAssociate:FloatingIpAssociate": 4,
    "openstack:networking/network:Network": 1,
    "openstack:networking/port:Port": 11,
    "openstack:networking/router:Router": 1,
    "openstack:networking/routerInterface:RouterInterface": 1,
    "openstack:networking/secGroup:SecGroup": 5,
    "openstack:networking/secGroupRule:SecGroupRule": 20,
    "openstack:networking/subnet:Subnet": 1,
    "random:index/randomPassword:RandomPassword": 2,
    "rayswarm:openstack:ClusterNetwork": 1,
    "rayswarm:openstack:Machine": 11,
    "rayswarm:openstack:SecurityGroups": 1,
    "rayswarm:platform:Platform": 1,
    "rayswarm:promotion:ModelPromotion": 1,
    "rayswarm:ray:RayCluster": 1,
    "rayswarm:serving:ServingStack": 1,
    "rayswarm:swarm:SwarmCluster": 1,
    "tls:index/privateKey:PrivateKey": 2,
  },
};

/** Dummy credentials: enough for the provider to configure itself; never used to connect. */
const DUMMY_OPENSTACK = {
  OS_AUTH_URL: "http://127.0.0.1:5000/v3",
  OS_USERNAME: "preview",
  OS_PASSWORD: "preview",
  OS_PROJECT_NAME: "preview",
  OS_USER_DOMAIN_NAME: "Default",
  OS_PROJECT_DOMAIN_NAME: "Default",
  OS_REGION_NAME: "RegionOne",
};

/** The plugins an OpenStack stack loads (docker is used by the local environment only). */
const PLUGINS = ["command", "openstack", "random", "tls"];

const problem = engineProblem("nodejs", PLUGINS);
if (problem && process.env.RAYSWARM_REQUIRE_ENGINE === "1") {
  throw new Error(`the Pulumi engine is required (RAYSWARM_REQUIRE_ENGINE=1) but ${problem}`);
}
if (problem) {
  // Visible in the jest output so a skipped suite is never mistaken for a passing one.
  console.warn(`engine previews SKIPPED: ${problem}`);
}
const suite = problem ? describe.skip : describe;

suite.each(["dev", "prod"] as const)("pulumi preview --stack %s", (stack) => {
  let dir = "";

  afterAll(() => {
    if (dir && !process.env.RAYSWARM_KEEP_PREVIEW_DIR) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("succeeds and plans the expected resources per type", () => {
    dir = copyProject(`rayswarm-preview-${stack}-`);
    const env = engineEnv({
      ...DUMMY_OPENSTACK,
      PULUMI_BACKEND_URL: `file://${dir}/.pulumi-state`,
      PULUMI_CONFIG_PASSPHRASE: "rayswarm-preview-test",
    });
    fs.mkdirSync(`${dir}/.pulumi-state`);

    const init = pulumi(["stack", "init", stack, "--non-interactive"], dir, env);
    expect({ step: "stack init", status: init.status, stderr: init.stderr }).toMatchObject({ status: 0 });

    const preview = pulumi(["preview", "--stack", stack, "--json", "--non-interactive"], dir, env);
    let parsed: { steps?: { op: string; urn: string }[]; diagnostics?: { message: string; severity: string }[] } = {};
    try {
      parsed = JSON.parse(preview.stdout);
    } catch {
      // not JSON: reported below with the raw output
    }
    const errors = (parsed.diagnostics ?? []).filter((d) => d.severity === "error").map((d) => d.message.trim());
    if (preview.status !== 0) {
      throw new Error(
        `pulumi preview --stack ${stack} failed (exit ${preview.status}):\n${errors.join("\n") || preview.stdout.slice(-4000)}\n${preview.stderr.slice(-4000)}`,
      );
    }

    const planned = countPlannedTypes(parsed);
    if (process.env.RAYSWARM_PREVIEW_PRINT) console.log(`${stack}: ${JSON.stringify(planned, null, 2)}`);
    expect(planned).toEqual(EXPECTED[stack]);
  });
});
