/**
 * scripts/deploy-local.sh's engine: five node containers + the program deployed onto them.
 * Keeps its state in ${RAYSWARM_LOCAL_DIR:-~/.rayswarm/local} so `destroy` can undo it.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Fleet, must, sshKeyPair } from "../tests/integration/support/nodes";
import { engineMissing, makeDeployer } from "../tests/e2e/support/deployer";
import { REPO } from "../tests/e2e/support/pulumi";

const ROLES = ["orchestration", "ray-head", "ray-worker", "swarm-manager", "swarm-worker"] as const;
const IMAGES = { serving: "rayswarm/serving:dev", rabbitmq: "rayswarm/rabbitmq:3", redis: "rayswarm/redis:7" };

async function main(action: string) {
  const dir = process.env.RAYSWARM_LOCAL_DIR ?? path.join(os.homedir(), ".rayswarm", "local");
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const fleet = new Fleet("local");
  const keyFile = path.join(dir, "id_ed25519");
  const configFile = path.join(dir, "config.json");

  if (action === "destroy") {
    if (!fs.existsSync(configFile)) throw new Error(`nothing to destroy: no ${configFile}`);
    const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, unknown>;
    await makeDeployer("local", dir, config, fs.readFileSync(keyFile, "utf8")).destroy();
    fleet.cleanup();
    fs.rmSync(configFile);
    console.log("local platform destroyed; node containers removed");
    return;
  }

  if (!fs.existsSync(keyFile)) {
    const k = sshKeyPair();
    fs.copyFileSync(k.privateKey, keyFile);
    fs.chmodSync(keyFile, 0o600);
    fs.copyFileSync(`${k.privateKey}.pub`, `${keyFile}.pub`);
  }
  const publicKey = fs.readFileSync(`${keyFile}.pub`, "utf8").trim();
  console.log("saving images for preloading onto the swarm machines ...");
  must("bash", [path.join(REPO, "scripts/images/save-images.sh"), path.join(dir, "images"), ...Object.values(IMAGES)]);
  console.log("starting five node containers ...");
  const nodes = await fleet.start(ROLES, { pipCache: true, authorizedKeys: publicKey });
  const config = {
    "rayswarm:environment": "existing",
    "rayswarm:hosts": ROLES.map((r, i) => ({ name: nodes[i].name, address: nodes[i].ip, user: "root", roles: [r] })),
    "rayswarm:sshUser": "root",
    "rayswarm:endpointMode": "dnsrr",
    "rayswarm:publishMode": "host",
    "rayswarm:overlayEncryption": false,
    "rayswarm:servingImage": IMAGES.serving,
    "rayswarm:rabbitmqImage": IMAGES.rabbitmq,
    "rayswarm:redisImage": IMAGES.redis,
    "rayswarm:imageTarballs": Object.values(IMAGES).map((t) => path.join(dir, "images", `${t.replace(/[/:]/g, "_")}.tar`)),
    "rayswarm:tuningTrials": Number(process.env.RAYSWARM_TUNING_TRIALS ?? 8),
  };
  fs.writeFileSync(configFile, JSON.stringify(config, null, 2));
  const deployer = makeDeployer("local", dir, config, fs.readFileSync(keyFile, "utf8"));
  const why = engineMissing();
  console.log(
    deployer.kind === "pulumi"
      ? "deploying with pulumi up ..."
      : `deploying with the engine-less runner (the Pulumi engine cannot run here: ${why}); progress: ${path.join(dir, "runner.log")} ...`,
  );
  const t0 = Date.now();
  const r = await deployer.up();
  const out = await deployer.outputs();
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${r.changed} of ${r.total} steps changed something`);
  console.log(`web page:        ${out.webUrl}`);
  console.log(`model version:   ${out.modelVersion}`);
  console.log(`ssh (add -i ${keyFile}): ${JSON.stringify(out.sshCommands, null, 2)}`);
  console.log(`Ray dashboard:   ${out.rayDashboardTunnel}`);
  console.log(`promote a model: ${out.promoteCommand}`);
  console.log(`undo it all:     bash scripts/deploy-local.sh destroy`);
}

main(process.argv[2] ?? "up").catch((e) => {
  console.error(`deploy-local: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
