import { ConfigError, parsePlatformConfig } from "../../stacks/config";
import { stackConfig } from "./support/harness";

const KEY = ["-----BEGIN", "OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----"].join(" ");
const openstack = { "rayswarm:environment": "openstack", "rayswarm:adminCidr": "203.0.113.7/32" };
const existing = (hosts: unknown) => ({
  "rayswarm:environment": "existing",
  "rayswarm:sshPrivateKey": KEY,
  "rayswarm:hosts": JSON.stringify(hosts),
});
const goodHosts = [
  { name: "bastion", address: "192.0.2.10", roles: ["orchestration"] },
  { name: "head", address: "10.0.0.2", roles: ["ray-head"] },
  { name: "mgr", address: "10.0.0.3", roles: ["swarm-manager"] },
];

function problems(raw: Record<string, string>, secretKeys?: string[]): string[] {
  try {
    parsePlatformConfig(raw, "test", secretKeys);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).problems];
  }
  throw new Error("expected the config to be rejected");
}

describe("valid configurations", () => {
  test("no keys at all: the local default with sensible defaults", () => {
    const c = parsePlatformConfig({}, "local");
    expect(c.environment).toBe("local");
    expect(c.ssh.user).toBe("root");
    expect(c.counts).toEqual({ rayWorkers: 1, swarmManagers: 1, swarmWorkers: 1 });
    expect(c.serving).toMatchObject({ port: 8080, endpointMode: "vip", publishMode: "ingress", apiReplicas: 2 });
    expect(c.tuning.initial).toBe(true);
  });

  test.each(["dev", "prod"])("the committed %s stack file parses", (stack) => {
    const c = parsePlatformConfig(stackConfig(stack), stack);
    expect(c.environment).toBe("openstack");
    expect(c.ssh.user).toBe("debian");
    expect(c.counts.swarmManagers % 2).toBe(1);
  });

  test("prod is highly available", () => {
    const c = parsePlatformConfig(stackConfig("prod"), "prod");
    expect(c.counts.swarmManagers).toBeGreaterThanOrEqual(3);
    expect(c.counts.swarmWorkers).toBeGreaterThanOrEqual(2);
    expect(c.counts.rayWorkers).toBeGreaterThanOrEqual(2);
  });

  test("existing: counts come from the inventory; the private key is a secret Output", async () => {
    const c = parsePlatformConfig(
      existing([...goodHosts, { name: "w1", address: "10.0.0.4", roles: ["swarm-worker", "ray-worker"], port: 2222, user: "ops" }]),
      "e",
    );
    expect(c.counts).toEqual({ rayWorkers: 1, swarmManagers: 1, swarmWorkers: 1 });
    expect(c.hosts.find((h) => h.name === "w1")).toMatchObject({ port: 2222, user: "ops", privateAddress: "10.0.0.4" });
    const pulumi = await import("@pulumi/pulumi");
    expect(await pulumi.isSecret(c.ssh.privateKey!)).toBe(true);
  });

  test("monitoring: on by default with the pinned versions; the webhook URL is a secret Output", async () => {
    const d = parsePlatformConfig({}, "local").monitoring;
    expect(d).toEqual({
      enabled: true,
      retention: "15d",
      webhookUrl: undefined,
      image: "rayswarm/monitoring:2",
      versions: { prometheus: "2.42.0", alertmanager: "0.25.0", nodeExporter: "1.5.0" },
    });
    const c = parsePlatformConfig(
      { "rayswarm:monitoringWebhookUrl": "https://hooks.example.com/x?a=1&b=2", "rayswarm:monitoringRetention": "30d" },
      "local",
      ["rayswarm:monitoringWebhookUrl"],
    ).monitoring;
    expect(c.retention).toBe("30d");
    expect(await (c.webhookUrl as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(true);
    // An existing inventory without an orchestration machine is fine with monitoring off.
    expect(parsePlatformConfig({ ...existing(goodHosts.slice(1)), "rayswarm:monitoring": "false" }, "e").monitoring.enabled).toBe(false);
  });

  test("promotion: the train command's search defaults to 16 trials, 600 s, seed 7, and takes the config's values", () => {
    expect(parsePlatformConfig({}, "local").promotion.train).toEqual({ trials: 16, timeBudgetSeconds: 600, seed: 7 });
    const c = parsePlatformConfig({ "rayswarm:trainTrials": "48", "rayswarm:trainTimeBudget": "1800", "rayswarm:trainSeed": "0" }, "local");
    expect(c.promotion).toMatchObject({ keepVersions: 5, train: { trials: 48, timeBudgetSeconds: 1800, seed: 0 } });
  });

  test("values that equal a Pulumi.yaml default do not count as set for other environments", () => {
    expect(() =>
      parsePlatformConfig({ ...existing(goodHosts), "rayswarm:rayWorkers": "1", "rayswarm:image": "debian-12" }, "e"),
    ).not.toThrow();
  });
});

describe("invalid configurations fail with a message naming the key, the bad value and what is allowed", () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    [
      "even manager count",
      { ...openstack, "rayswarm:swarmManagers": "2" },
      /^rayswarm:swarmManagers must be an odd number >= 1 \(got 2\): an even manager count cannot keep Raft quorum$/,
    ],
    ["non-numeric count", { "rayswarm:rayWorkers": "two" }, /^rayswarm:rayWorkers must be a whole number from 0 to 100 \(got "two"\)$/],
    ["negative count", { "rayswarm:swarmWorkers": "-1" }, /^rayswarm:swarmWorkers must be a whole number from 0 to 100 \(got -1\)$/],
    [
      "unknown environment",
      { "rayswarm:environment": "aws" },
      /^rayswarm:environment must be one of openstack, local, existing \(got "aws"\)$/,
    ],
    ["typo in a key", { "rayswarm:rayWorker": "3" }, /^rayswarm:rayWorker is not a known key \(did you mean rayswarm:rayWorkers\?\)/],
    [
      "openstack without admin CIDR",
      { "rayswarm:environment": "openstack" },
      /^rayswarm:adminCidr must be set when rayswarm:environment is openstack \(got nothing\)/,
    ],
    [
      "admin CIDR open to the world",
      { ...openstack, "rayswarm:adminCidr": "0.0.0.0/0" },
      /^rayswarm:adminCidr must be a CIDR narrower than \/0 \(got "0\.0\.0\.0\/0"\): SSH must not be open/,
    ],
    [
      "malformed admin CIDR",
      { ...openstack, "rayswarm:adminCidr": "10.0.0.300/33" },
      /^rayswarm:adminCidr must be an IPv4 CIDR such as 203\.0\.113\.7\/32 \(got "10\.0\.0\.300\/33"\)$/,
    ],
    [
      "public network CIDR",
      { ...openstack, "rayswarm:networkCidr": "8.8.8.0/24" },
      /^rayswarm:networkCidr must be a private \(RFC 1918\) CIDR/,
    ],
    [
      "network CIDR with host bits",
      { "rayswarm:networkCidr": "10.42.0.1/24" },
      /^rayswarm:networkCidr must be an IPv4 network CIDR with no host bits set/,
    ],
    [
      "network too small for the machines",
      { ...openstack, "rayswarm:networkCidr": "10.42.0.0/27", "rayswarm:rayWorkers": "30" },
      /^rayswarm:rayWorkers must be at most 5 in networkCidr 10\.42\.0\.0\/27 \(the ray-worker block is \.20–\.24 \(5 addresses\)\) \(got 30\): use a larger networkCidr \(e\.g\. a \/24\) or fewer machines$/,
    ],
    [
      "one role's block too small while the others have room",
      { ...openstack, "rayswarm:networkCidr": "10.42.0.0/25", "rayswarm:swarmWorkers": "60" },
      /^rayswarm:swarmWorkers must be at most 53 in networkCidr 10\.42\.0\.0\/25 \(the swarm-worker block is \.73–\.125 \(53 addresses\)\) \(got 60\)/,
    ],
    [
      "an image tarball that is not there",
      { ...openstack, "rayswarm:imageTarballs": '["/nonexistent/rayswarm_serving_dev.tar"]' },
      /^rayswarm:imageTarballs: \/nonexistent\/rayswarm_serving_dev\.tar does not exist: make it with bash scripts\/images\/build-images\.sh serving && bash scripts\/images\/save-images\.sh \/nonexistent rayswarm\/serving:dev/,
    ],
    [
      "serving port that collides with RabbitMQ",
      { "rayswarm:servingPort": "5672" },
      /^rayswarm:servingPort must be a port not used inside the cluster \(got 5672\): 5672 is RabbitMQ$/,
    ],
    [
      "serving port out of range",
      { "rayswarm:servingPort": "70000" },
      /^rayswarm:servingPort must be a whole number from 1 to 65535 \(got 70000\)$/,
    ],
    ["endpoint mode", { "rayswarm:endpointMode": "roundrobin" }, /^rayswarm:endpointMode must be one of vip, dnsrr \(got "roundrobin"\)$/],
    [
      "dnsrr with the ingress mesh",
      { "rayswarm:endpointMode": "dnsrr", "rayswarm:publishMode": "ingress" },
      /^rayswarm:publishMode must be host when endpointMode is dnsrr \(got "ingress"\)/,
    ],
    ["boolean", { "rayswarm:initialTuning": "yes" }, /^rayswarm:initialTuning must be true or false \(got "yes"\)$/],
    ["ray version", { "rayswarm:rayVersion": "latest" }, /^rayswarm:rayVersion must be a version such as 2\.60\.0 \(got "latest"\)$/],
    ["image reference", { "rayswarm:redisImage": "Redis Latest" }, /^rayswarm:redisImage must be a Docker image reference/],
    ["tarballs not a list", { "rayswarm:imageTarballs": "images.tar" }, /^rayswarm:imageTarballs must be a list of paths to \.tar files/],
    [
      "model root relative",
      { "rayswarm:modelRoot": "models/../etc" },
      /^rayswarm:modelRoot must be an absolute path without spaces or \.\. \(got "models\/\.\.\/etc"\)$/,
    ],
    [
      "keep fewer than 2 versions",
      { "rayswarm:keepModelVersions": "1" },
      /^rayswarm:keepModelVersions must be a whole number from 2 to 100 \(got 1\)$/,
    ],
    [
      "a train search of no trials",
      { "rayswarm:trainTrials": "0" },
      /^rayswarm:trainTrials must be a whole number from 1 to 1000 \(got 0\)$/,
    ],
    [
      "gate margin not a fraction",
      { "rayswarm:gateMinImprovement": "5%" },
      /^rayswarm:gateMinImprovement must be a fraction from 0 to 0\.999999 such as 0\.005 \(got "5%"\)$/,
    ],
    [
      "public key without private key",
      { "rayswarm:sshPublicKey": "ssh-ed25519 AAAAC3Nz me" },
      /^rayswarm:sshPrivateKey must be set when rayswarm:sshPublicKey is \(got nothing\)/,
    ],
    [
      "bad public key",
      { "rayswarm:sshPublicKey": "hello", "rayswarm:sshPrivateKey": KEY },
      /^rayswarm:sshPublicKey must be an OpenSSH public key line/,
    ],
    [
      "key for another environment",
      { "rayswarm:image": "ubuntu-24.04" },
      /^rayswarm:image is not used when rayswarm:environment is local \(only with openstack\): remove it$/,
    ],
    [
      "existing without hosts",
      { "rayswarm:environment": "existing", "rayswarm:sshPrivateKey": KEY },
      /^rayswarm:hosts must be set when rayswarm:environment is existing/,
    ],
    [
      "existing host with an unknown role",
      existing([...goodHosts, { name: "x", address: "10.0.0.9", roles: ["gpu"] }]),
      /^rayswarm:hosts\[3\]\.roles\.0 must be a list of roles from orchestration, ray-head, ray-worker, swarm-manager, swarm-worker \(got "gpu"\)$/,
    ],
    [
      "existing host with a bad address",
      existing([...goodHosts, { name: "x", address: "not an address!", roles: ["swarm-worker"] }]),
      /^rayswarm:hosts\[3\]\.address must be an IPv4 address or a hostname \(got "not an address!"\)$/,
    ],
    [
      "existing with two managers",
      existing([...goodHosts, { name: "mgr2", address: "10.0.0.5", roles: ["swarm-manager"] }]),
      /^rayswarm:hosts must have an odd number of swarm-manager machines \(got 2\)/,
    ],
    [
      "existing with duplicate names",
      existing([...goodHosts, { name: "head", address: "10.0.0.6", roles: ["ray-worker"] }]),
      /^rayswarm:hosts names must be unique \(got "head" twice\)$/,
    ],
    [
      "existing host with an unknown field",
      existing([...goodHosts, { name: "x", address: "10.0.0.9", roles: ["ray-worker"], pasword: "x" }]),
      /^rayswarm:hosts\[3\] must be an object with only name, address, privateAddress, port, user, roles \(unknown: pasword\)/,
    ],
    [
      "existing without an orchestration machine, monitoring on (the default)",
      existing(goodHosts.slice(1)),
      /^rayswarm:monitoring must be false when rayswarm:hosts has no orchestration machine \(got true\): Prometheus and Alertmanager run on the orchestration machine/,
    ],
    ["monitoring not a boolean", { "rayswarm:monitoring": "yes" }, /^rayswarm:monitoring must be true or false \(got "yes"\)$/],
    [
      "a retention that is not a Prometheus duration",
      { "rayswarm:monitoringRetention": "two weeks" },
      /^rayswarm:monitoringRetention must be a Prometheus duration such as 15d.* \(got "two weeks"\)$/,
    ],
    [
      "a Prometheus version that is not exact",
      { "rayswarm:prometheusVersion": "2.42" },
      /^rayswarm:prometheusVersion must be an exact version such as 2\.42\.0.* \(got "2\.42"\)$/,
    ],
    [
      "an Alertmanager version that is not exact",
      { "rayswarm:alertmanagerVersion": "latest" },
      /^rayswarm:alertmanagerVersion must be an exact version/,
    ],
    [
      "a node exporter version that is not exact",
      { "rayswarm:nodeExporterVersion": "1.5" },
      /^rayswarm:nodeExporterVersion must be an exact version/,
    ],
    [
      "a monitoring image that is not an image",
      { "rayswarm:monitoringImage": "Not An Image" },
      /^rayswarm:monitoringImage must be a Docker image reference/,
    ],
  ];

  test.each(cases)("%s", (_label, raw, expected) => {
    const found = problems(raw);
    expect(found.some((p) => expected.test(p))).toBe(true);
    if (!found.some((p) => expected.test(p))) throw new Error(found.join("\n"));
  });

  test("a private key stored in clear is refused, and its value is never echoed", () => {
    const found = problems({ ...existing(goodHosts) }, ["rayswarm:somethingElse"]);
    expect(found).toContain(
      "rayswarm:sshPrivateKey must be stored as a secret (got a plain value): set it with `pulumi config set --secret sshPrivateKey < key`",
    );
    expect(found.join("\n")).not.toContain("END OPENSSH");
  });

  test("a webhook URL that is not an http(s) URL, or stored in clear, is refused without echoing it", () => {
    const found = problems({ "rayswarm:monitoringWebhookUrl": "ftp://hooks.example.com/very-secret-token" }, ["rayswarm:x"]);
    expect(found).toEqual([
      "rayswarm:monitoringWebhookUrl must be an http(s) URL without spaces, quotes or backslashes (got a value that is not one; not shown because it is a secret)",
      "rayswarm:monitoringWebhookUrl must be stored as a secret (got a plain value): set it with `pulumi config set --secret monitoringWebhookUrl <url>`",
    ]);
    expect(found.join("\n")).not.toContain("very-secret-token");
  });

  test("every problem is reported at once, one line each", () => {
    const found = problems({ "rayswarm:swarmManagers": "4", "rayswarm:servingPort": "22", "rayswarm:colour": "blue" });
    expect(found).toHaveLength(3);
  });

  test("the thrown error lists every problem (what `pulumi preview` prints)", () => {
    expect(() => parsePlatformConfig({ "rayswarm:swarmManagers": "2" }, "x")).toThrow(
      /invalid configuration for project rayswarm:\n {2}- rayswarm:swarmManagers must be an odd number >= 1 \(got 2\)/,
    );
  });
});

describe("the table of keys (stacks/config/keys.ts) is what the reader reads", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { KEYS } = require("../../stacks/config/keys") as typeof import("../../stacks/config/keys");
  const entries = Object.entries(KEYS);
  const rawOf = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

  test.each(entries.filter(([, s]) => s.default !== undefined))("%s: its declared default passes its own schema", (_key, spec) => {
    const parsed = spec.value.schema.safeParse(rawOf(spec.default));
    expect(parsed.success).toBe(true);
    expect(parsed.data).toEqual(spec.default);
  });

  test("every key an environment uses rejects a wrong value with a message naming the key (secrets not shown)", () => {
    const envOf = (envs?: readonly string[]) => envs?.[0] ?? "local";
    for (const [key, spec] of entries) {
      if (key === "environment") continue;
      const base: Record<string, string> =
        envOf(spec.environments) === "openstack" ? { ...openstack } : envOf(spec.environments) === "existing" ? existing(goodHosts) : {};
      const bad = spec.type === "integer" ? "1.5" : spec.type === "boolean" ? "maybe" : spec.type === "string" ? " " : '"not a list"';
      const found = problems({ ...base, [`rayswarm:${key}`]: bad });
      const own = found.filter((p) => p.startsWith(`rayswarm:${key} must be `));
      expect({ key, own: own.length > 0 }).toEqual({ key, own: true });
      if (spec.secret) expect(own.join("\n")).toContain("not shown because it is a secret");
      else
        expect(own.join("\n")).toContain(
          `(got ${JSON.stringify(spec.type === "array" || spec.type === "object" ? JSON.parse(bad) : bad)})`,
        );
    }
  });

  test("overlayEncryption is validated like every other boolean (it used to fall back to true silently)", () => {
    expect(problems({ "rayswarm:overlayEncryption": "no" })).toEqual(['rayswarm:overlayEncryption must be true or false (got "no")']);
  });

  test("a key the environment does not use is reported once, as unused, whatever its value", () => {
    expect(problems({ "rayswarm:bastionFlavor": "" })).toEqual([
      "rayswarm:bastionFlavor is not used when rayswarm:environment is local (only with openstack): remove it",
    ]);
  });
});
