/**
 * Runs the Pulumi program under mocks and records every resource: type, name, resolved inputs,
 * parent and direct dependencies (explicit dependsOn + the resources behind every input Output).
 * The mocks throw on any resource type or function call they do not know.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";

export interface Recorded {
  readonly type: string;
  readonly name: string;
  readonly resource: pulumi.Resource;
  readonly parent?: pulumi.Resource;
  /** Raw props as the program passed them (may hold Outputs). */
  readonly props: pulumi.Inputs;
  /** Properties the engine does not diff (`ignoreChanges`). */
  readonly ignoreChanges: readonly string[];
  /** Explicit dependsOn. */
  readonly explicitDeps: pulumi.Resource[];
  /** The resource options as the program passed them. */
  readonly opts: pulumi.CustomResourceOptions;
  /** Filled after the run: resolved inputs seen by the mock provider (custom resources only). */
  inputs?: Record<string, unknown>;
  /** Filled after the run: every resource this one waits for directly. */
  deps: Set<pulumi.Resource>;
}

export interface RunResult {
  readonly resources: Recorded[];
  readonly outputs: Record<string, unknown>;
  byName(name: string): Recorded;
  ofType(type: string): Recorded[];
  /** Every resource `r` waits for, transitively (a dependency on a component = on all its descendants). */
  dependsOnTransitively(r: Recorded): Set<Recorded>;
}

const FAKE_KEY_HEADER = ["-----BEGIN", "OPENSSH PRIVATE KEY-----"].join(" ");

/** Computed outputs per custom resource type, on top of the inputs. Unknown types throw. */
const MOCKED_TYPES: Record<string, (args: pulumi.runtime.MockResourceArgs, n: number) => Record<string, unknown>> = {
  "openstack:networking/network:Network": () => ({}),
  "openstack:networking/subnet:Subnet": () => ({}),
  "openstack:networking/router:Router": () => ({}),
  "openstack:networking/routerInterface:RouterInterface": () => ({}),
  "openstack:networking/secGroup:SecGroup": () => ({}),
  "openstack:networking/secGroupRule:SecGroupRule": () => ({}),
  "openstack:networking/port:Port": () => ({}),
  "openstack:networking/floatingIp:FloatingIp": (_a, n) => ({ address: `198.51.100.${n % 250}` }),
  "openstack:networking/floatingIpAssociate:FloatingIpAssociate": () => ({}),
  "openstack:compute/keypair:Keypair": () => ({}),
  "openstack:compute/serverGroup:ServerGroup": () => ({}),
  "openstack:compute/instance:Instance": () => ({}),
  "tls:index/privateKey:PrivateKey": (_a, n) => ({
    publicKeyOpenssh: `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAmock${n}`,
    privateKeyOpenssh: `${FAKE_KEY_HEADER}\nmock-${n}\n-----END OPENSSH PRIVATE KEY-----\n`,
    privateKeyPem: `mock-pem-${n}`,
  }),
  "random:index/randomPassword:RandomPassword": (a) => ({ result: `mock-password-${a.name}` }),
  "docker:index/network:Network": () => ({}),
  "docker:index/volume:Volume": () => ({}),
  "docker:index/container:Container": () => ({}),
  "command:remote:Command": (a) => ({ stdout: mockStdout(a), stderr: "" }),
  "command:remote:CopyToRemote": () => ({}),
  "command:local:Command": () => ({ stdout: "", stderr: "" }),
};

/** Remote commands answer what the real scripts print. */
function mockStdout(a: pulumi.runtime.MockResourceArgs): string {
  const create: string = a.inputs.create ?? "";
  if (create.includes("swarm-tokens.sh"))
    return (
      JSON.stringify({
        worker: "SWMTKN-1-mockworker",
        manager: "SWMTKN-1-mockmanager",
        managerAddr: "10.42.0.13:2377",
        clusterId: "mock",
      }) + "\nchanged=false\n"
    );
  if (create.includes("tune-initial.sh")) return "version=20261129T000000Z-mock0001\nchanged=false\n";
  if (create.includes("ray-wait.sh")) return "nodes=2\nchanged=false\n";
  if (create.includes("swarm-nodes.sh"))
    return '[{"hostname":"m","role":"manager","status":"ready","availability":"active","labels":{}}]\nchanged=false\n';
  return "changed=false\n";
}

const KNOWN_CALLS: Record<string, (inputs: Record<string, unknown>) => Record<string, unknown>> = {
  "openstack:networking/getNetwork:getNetwork": (inputs) => ({ id: `net-${String(inputs.name)}`, name: inputs.name, external: true }),
};

export async function runProgram(
  stack: string,
  config: Record<string, string>,
  program: () => unknown,
  opts: { secretKeys?: string[]; preview?: boolean } = {},
): Promise<RunResult> {
  const resolved = new Map<string, Record<string, unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        // Component resources (the stack, rayswarm:* components) carry no state of their own.
        if (args.custom === false || args.type === "pulumi:pulumi:Stack" || args.type.startsWith("rayswarm:")) {
          return { id: "", state: {} };
        }
        const compute = MOCKED_TYPES[args.type];
        if (!compute) throw new Error(`unmocked resource type ${args.type} (${args.name})`);
        // A number per resource from its type and name (not from creation order), so a run with
        // more resources gives the existing ones the same computed values.
        const n = 1 + (parseInt(crypto.createHash("sha1").update(`${args.type}::${args.name}`).digest("hex").slice(0, 8), 16) % 100000);
        resolved.set(`${args.type}::${args.name}`, args.inputs);
        return { id: `${args.name}-id`, state: { ...args.inputs, ...compute(args, n) } };
      },
      call(args) {
        const fn = KNOWN_CALLS[args.token];
        if (!fn) throw new Error(`unmocked function call ${args.token}`);
        return fn(args.inputs);
      },
    },
    "rayswarm",
    stack,
    opts.preview ?? false,
  );
  pulumi.runtime.setAllConfig(config, opts.secretKeys ?? Object.keys(config).filter((k) => k.endsWith("PrivateKey")));

  const resources: Recorded[] = [];
  let outputs: Record<string, unknown> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      const explicit: pulumi.Resource[] = [];
      const d = args.opts.dependsOn;
      const list = Array.isArray(d) ? d : d ? [d] : [];
      for (const x of list) if (pulumi.Resource.isInstance(x)) explicit.push(x);
      resources.push({
        type: args.type,
        name: args.name,
        resource: args.resource,
        parent: args.opts.parent,
        props: args.props,
        explicitDeps: explicit,
        ignoreChanges: args.opts.ignoreChanges ?? [],
        opts: args.opts as pulumi.CustomResourceOptions,
        deps: new Set(),
      });
      return undefined;
    });
    // Keep the program's own Outputs (the stack's massaged copy loses secretness).
    outputs = program() as Record<string, unknown>;
    return outputs as pulumi.Inputs;
  });

  // Every resource registered (the stack's outputs may resolve before the last ones do).
  await new Promise((done) => pulumi.all(resources.map((r) => r.resource.urn)).apply(done));
  // Resolve the dependencies behind every input Output.
  for (const r of resources) {
    for (const x of r.explicitDeps) r.deps.add(x);
    for (const o of collectOutputs(r.props)) {
      const all = await (o as unknown as { allResources?: () => Promise<Set<pulumi.Resource>> }).allResources?.();
      for (const x of all ?? []) if (x !== r.resource) r.deps.add(x);
    }
    r.inputs = resolved.get(`${r.type}::${r.name}`);
  }

  const byResource = new Map<pulumi.Resource, Recorded>(resources.map((r) => [r.resource, r]));
  const children = new Map<pulumi.Resource, Recorded[]>();
  for (const r of resources) if (r.parent) children.set(r.parent, [...(children.get(r.parent) ?? []), r]);
  const descendants = (res: pulumi.Resource): Recorded[] => (children.get(res) ?? []).flatMap((c) => [c, ...descendants(c.resource)]);

  const memo = new Map<Recorded, Set<Recorded>>();
  const closure = (r: Recorded): Set<Recorded> => {
    const hit = memo.get(r);
    if (hit) return hit;
    const out = new Set<Recorded>();
    memo.set(r, out);
    for (const dep of r.deps) {
      const rec = byResource.get(dep);
      if (!rec) continue;
      for (const x of [rec, ...descendants(dep)]) {
        out.add(x);
        for (const y of closure(x)) out.add(y);
      }
    }
    return out;
  };

  return {
    resources,
    outputs,
    byName(name) {
      const found = resources.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one resource named ${name}, found ${found.length}`);
      return found[0];
    },
    ofType(type) {
      return resources.filter((r) => r.type === type);
    },
    dependsOnTransitively: closure,
  };
}

/** Every Output inside a props object (the resources behind them are a resource's implicit dependencies). */
export function collectOutputs(v: unknown, seen = new Set<unknown>()): pulumi.Output<unknown>[] {
  if (v === null || typeof v !== "object" || seen.has(v)) return [];
  seen.add(v);
  if (pulumi.Output.isInstance(v)) return [v as pulumi.Output<unknown>];
  if (pulumi.Resource.isInstance(v)) return [];
  return Object.values(v as Record<string, unknown>).flatMap((x) => collectOutputs(x, seen));
}

/** Resolves an Output (or plain value) and tells whether it is secret. */
export async function unwrap<T>(v: pulumi.Input<T> | undefined): Promise<{ value: T | undefined; secret: boolean }> {
  if (v === undefined) return { value: undefined, secret: false };
  const o = pulumi.output(v);
  const secret = await pulumi.isSecret(o);
  const value = await new Promise<T>((resolve) => o.apply((x) => resolve(x as T)));
  return { value, secret };
}

export const ADMIN_CIDR = "203.0.113.0/24";

/**
 * Stack configs as the Pulumi.<stack>.yaml files declare them (read from the files), with the
 * image tarballs they name (made by scripts/images/save-images.sh, absent here) replaced by
 * small `docker save`-shaped files of the same names in a temp folder: the program hashes them
 * and reads their manifest, and refuses names that do not exist.
 */
export function stackConfig(stack: string, content = "tar"): Record<string, string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yaml = require("js-yaml") as typeof import("js-yaml");
  const doc = yaml.load(fs.readFileSync(`${__dirname}/../Pulumi.${stack}.yaml`, "utf8")) as { config: Record<string, unknown> };
  const cfg = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
  const tarballs = doc.config["rayswarm:imageTarballs"];
  if (Array.isArray(tarballs) && tarballs.length > 0) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "rayswarm-tars-"));
    cfg["rayswarm:imageTarballs"] = JSON.stringify(
      tarballs.map((t: string) => writeImageTarball(path.join(dir, path.basename(t)), tagOfTarballName(t), content)),
    );
  }
  return cfg;
}

/**
 * An `existing` stack of five machines (one per role, the orchestration machine on a forwarded
 * port) and the SSH key they accept; `extraSwarmWorkers` more Swarm workers after them.
 */
export function existingConfig(extraSwarmWorkers = 0): Record<string, string> {
  const key = ["-----BEGIN", "OPENSSH PRIVATE KEY-----\nk\n-----END OPENSSH PRIVATE KEY-----"].join(" ");
  const hosts = [
    { name: "orch", address: "127.0.0.1", port: 2201, roles: ["orchestration"], user: "root" },
    { name: "head", address: "172.30.0.11", roles: ["ray-head"], user: "root" },
    { name: "rw0", address: "172.30.0.12", roles: ["ray-worker"], user: "root" },
    { name: "mgr0", address: "172.30.0.13", roles: ["swarm-manager"], user: "root" },
    { name: "sw0", address: "172.30.0.14", roles: ["swarm-worker"], user: "root" },
    ...Array.from({ length: extraSwarmWorkers }, (_, i) => ({
      name: `sw${i + 1}`,
      address: `172.30.0.${20 + i}`,
      roles: ["swarm-worker"],
      user: "root",
    })),
  ];
  return { "rayswarm:environment": "existing", "rayswarm:sshPrivateKey": key, "rayswarm:hosts": JSON.stringify(hosts) };
}

/** The tag save-images.sh names a tarball after: rayswarm_serving_dev.tar is rayswarm/serving:dev. */
export function tagOfTarballName(file: string): string {
  const m = /^([^_]+)_(.+)_([^_]+)\.tar$/.exec(path.basename(file));
  if (!m) throw new Error(`${file}: not named like save-images.sh names tarballs (<repo>_<name>_<tag>.tar)`);
  return `${m[1]}/${m[2]}:${m[3]}`;
}

/**
 * A small tarball shaped like `docker save`'s (manifest.json naming a config blob whose sha256 is
 * the image ID) for `tag`; `tag` and `content` go into the config, so another tag or content,
 * another ID.
 * Returns the file.
 */
export function writeImageTarball(file: string, tag: string, content = "tar"): string {
  // The tag is in the config too: every image its own ID, as docker's are.
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Labels: { "rayswarm.test": content, "rayswarm.tag": tag } },
  });
  const id = crypto.createHash("sha256").update(config).digest("hex");
  const manifest = JSON.stringify([{ Config: `${id}.json`, RepoTags: [tag], Layers: [] }]);
  fs.writeFileSync(file, Buffer.concat([tarMember(`${id}.json`, config), tarMember("manifest.json", manifest), Buffer.alloc(1024)]));
  return file;
}

/** One ustar member: header + body padded to 512 bytes. */
function tarMember(name: string, text: string): Buffer {
  const body = Buffer.from(text, "utf8");
  const h = Buffer.alloc(512);
  const put = (at: number, len: number, v: string) => h.write(v.slice(0, len), at, "latin1");
  put(0, 100, name);
  put(100, 8, "0000644\0");
  put(108, 8, "0000000\0");
  put(116, 8, "0000000\0");
  put(124, 12, `${body.length.toString(8).padStart(11, "0")}\0`);
  put(136, 12, "00000000000\0");
  put(148, 8, "        ");
  put(156, 1, "0");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  const sum = h.reduce((a, b) => a + b, 0);
  put(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}
