/** ModelPromotion on fake Hosts (tests/unit/support/hosts.ts): deploy key, both sides, host keys, the first model. */
import * as command from "@pulumi/command";
import { ModelPromotion, ModelPromotionArgs } from "../../components/promotion";
import type { Host } from "../../components/host";
import { RunResult, unwrap } from "./support/harness";
import { componentError, fakeHost, fakeScripts, input, runComponent, stepsMatching, triggersOf, waitsFor } from "./support/hosts";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhostA";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIhostB";

function args(
  dev: Host,
  production: Host[],
  over: Partial<ModelPromotionArgs> = {},
  installedOn = [dev, ...production],
): ModelPromotionArgs {
  return {
    development: dev,
    production,
    scripts: fakeScripts(installedOn),
    modelRoot: "/srv/models",
    keepVersions: 3,
    developmentSsh: "ssh root@dev",
    rayAddress: "10.0.4.1:6379",
    train: { trials: 16, timeBudgetSeconds: 600, seed: 7 },
    ...over,
  };
}

describe("a development machine and two production machines with known host keys", () => {
  let run: RunResult;
  let promotion: ModelPromotion;
  beforeAll(async () => {
    run = await runComponent(() => {
      const dev = fakeHost("dev", ["ray-head"], { address: "10.0.4.1" });
      const prod = [
        fakeHost("p-0", ["swarm-manager"], { address: "10.0.4.10", hostKey: KEY_A }),
        fakeHost("p-1", ["swarm-worker"], { address: "10.0.4.11", hostKey: KEY_B }),
      ];
      const serving = new command.local.Command("serving-ready", { create: "true" });
      const job = new command.local.Command("tuning-job", { create: "true" });
      promotion = new ModelPromotion(
        "promotion",
        args(dev, prod, { after: [serving], initialModel: { dir: "/var/lib/initial", version: "v1", after: [job] } }),
      );
      return { privateKey: promotion.deployPrivateKey, initial: promotion.initialVersion };
    });
  });

  test("every production machine gets the deploy key's public half on stdin and its gate settings, after the serving stack", async () => {
    for (const p of ["p-0", "p-1"]) {
      const step = `promotion-production-${p}`;
      const create = String((await input(run, step, "create")).value);
      expect(create).toMatch(/host\/promotion-production\.sh \/srv\/models 3 evalsets\/diabetes-v1\.json [0-9a-f]{64} 0\.005/);
      const stdin = await input(run, step, "stdin");
      expect(stdin.value).toMatch(/^ssh-ed25519 AAAA\S+\n$/);
      expect(waitsFor(run, step, "serving-ready")).toBe(true);
      expect(waitsFor(run, step, `${p}-scripts`)).toBe(true);
    }
    expect(waitsFor(run, "promotion-production-p-0", "promotion-production-p-1")).toBe(false);
  });

  test("the development repo gets the private half on stdin, secret; pushes check host keys strictly when every key is known", async () => {
    expect(promotion.hostKeyChecking).toBe("yes");
    const stdin = await input(run, "promotion-development", "stdin");
    expect(stdin.secret).toBe(true);
    expect(String(stdin.value)).toContain("PRIVATE KEY");
    const create = String((await input(run, "promotion-development", "create")).value);
    expect(create).toContain(
      "env PROMOTION_STRICT_HOST_KEYS=yes bash /opt/rayswarm/current/promotion/setup-development.sh /var/lib/rayswarm/models-repo",
    );
    expect(create).not.toContain("PRIVATE KEY");
    expect((await unwrap(run.outputs.privateKey as never)).secret).toBe(true);
  });

  test("per production machine: its host key into known_hosts, then its push target; both undone on delete, delete before replace", async () => {
    for (const [p, addr, key] of [
      ["p-0", "10.0.4.10", KEY_A],
      ["p-1", "10.0.4.11", KEY_B],
    ]) {
      const known = `promotion-known-host-${p}`;
      const target = `promotion-target-${p}`;
      expect((await input(run, known, "stdin")).value).toBe(`${key}\n`);
      expect(String((await input(run, known, "create")).value)).toContain(
        `promotion/known-host.sh add /var/lib/rayswarm/models-repo ${addr}`,
      );
      expect(String((await input(run, known, "delete")).value)).toContain(
        `promotion/known-host.sh remove /var/lib/rayswarm/models-repo ${addr}`,
      );
      expect(String((await input(run, target, "create")).value)).toContain(
        `promotion/target.sh add /var/lib/rayswarm/models-repo git@${addr}`,
      );
      expect(String((await input(run, target, "delete")).value)).toContain(
        `promotion/target.sh remove /var/lib/rayswarm/models-repo git@${addr}`,
      );
      expect(waitsFor(run, target, known)).toBe(true);
      expect(waitsFor(run, target, `promotion-production-${p}`)).toBe(true);
      expect(run.byName(known).opts.deleteBeforeReplace).toBe(true);
      expect(run.byName(target).opts.deleteBeforeReplace).toBe(true);
      // a target follows its production machine (a rebuilt one is pushed to again)
      expect((await triggersOf(run, target)).slice(0, 2)).toEqual(["dev-id", `${p}-id`]);
      expect((await triggersOf(run, known)).slice(0, 2)).toEqual(["dev-id", addr]);
    }
  });

  test("the first model is promoted once everything is wired and the tuning job is done", async () => {
    for (const dep of ["promotion-target-p-0", "promotion-target-p-1", "promotion-development", "tuning-job"])
      expect(waitsFor(run, "promotion-promote-initial", dep)).toBe(true);
    expect(String((await input(run, "promotion-promote-initial", "create")).value)).toContain(
      "host/promote-once.sh /var/lib/rayswarm/models-repo /var/lib/initial",
    );
    expect(await triggersOf(run, "promotion-promote-initial")).toEqual(["dev-id", "v1"]);
    expect((await unwrap(run.outputs.initial as never)).value).toBe("v1");
  });
});

test("a production machine without a known host key: no known_hosts step for it, and pushes trust on first use", async () => {
  let promotion: ModelPromotion | undefined;
  const run = await runComponent(() => {
    const dev = fakeHost("dev", ["ray-head"]);
    promotion = new ModelPromotion(
      "promotion",
      args(dev, [fakeHost("p-0", ["swarm-manager"], { hostKey: KEY_A }), fakeHost("p-1", ["swarm-worker"])]),
    );
  });
  expect(promotion!.hostKeyChecking).toBe("accept-new");
  expect(stepsMatching(run, /known-host/)).toEqual(["promotion-known-host-p-0"]);
  expect(String((await input(run, "promotion-development", "create")).value)).not.toContain("PROMOTION_STRICT_HOST_KEYS");
});

test("the printed train command runs the search it is given, on the Ray cluster, from the development repo", async () => {
  let promotion: ModelPromotion;
  const run = await runComponent(() => {
    const dev = fakeHost("dev", ["ray-head"], { address: "10.0.4.1" });
    promotion = new ModelPromotion(
      "promotion",
      args(dev, [fakeHost("p-0", ["swarm-manager"])], { train: { trials: 12, timeBudgetSeconds: 90, seed: 3 } }),
    );
    return { train: promotion.trainCommand };
  });
  expect((await unwrap<string>(run.outputs.train as never)).value).toBe(
    "ssh root@dev sudo bash /opt/rayswarm/current/promotion/train-promote.sh /var/lib/rayswarm/models-repo 10.0.4.1:6379 --trials 12 --time-budget 90 --seed 3",
  );
});

describe("args", () => {
  test.each([
    ["no production machine", (d: Host, p: Host[]) => args(d, [], {}, [d, ...p]), /args\.production must list at least one machine/],
    ["one version kept", (d: Host, p: Host[]) => args(d, p, { keepVersions: 1 }), /args\.keepVersions must be >= 2/],
    ["a relative model folder", (d: Host, p: Host[]) => args(d, p, { modelRoot: "models" }), /args\.modelRoot must be absolute/],
    [
      "an improvement that is not a fraction",
      (d: Host, p: Host[]) => args(d, p, { minImprovement: "5%" }),
      /args\.minImprovement must be a fraction/,
    ],
    [
      "an evaluation set not in the bundle",
      (d: Host, p: Host[]) => args(d, p, { evalSet: "evalsets/none.json" }),
      /args\.evalSet: evaluation set evalsets\/none\.json/,
    ],
    [
      "a search of no trials",
      (d: Host, p: Host[]) => args(d, p, { train: { trials: 0, timeBudgetSeconds: 600, seed: 7 } }),
      /args\.train\.trials must be an integer >= 1 \(got 0\)/,
    ],
    [
      "a fractional time budget",
      (d: Host, p: Host[]) => args(d, p, { train: { trials: 4, timeBudgetSeconds: 1.5, seed: 7 } }),
      /args\.train\.timeBudgetSeconds must be an integer >= 1 \(got 1\.5\)/,
    ],
    ["a production machine without the scripts", (d: Host, p: Host[]) => args(d, p, {}, [d]), /the scripts are not installed on host p-0/],
  ])("%s is refused", async (_label, make, message) => {
    const error = await componentError(() => {
      const d = fakeHost("dev", ["ray-head"]);
      new ModelPromotion("promotion", make(d, [fakeHost("p-0", ["swarm-manager"])]));
    });
    expect(error?.message).toMatch(message);
  });
});
