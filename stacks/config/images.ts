/**
 * The image rules that need more than one key or the file system: the listed tarballs exist and
 * read as `docker save` files, and on OpenStack every image the swarm runs is delivered in one of
 * them (or named by digest). Each message says how to make what is missing.
 */
import * as fs from "fs";
import * as path from "path";
import { PINNED_RE, tarballImages } from "../../components/serving/images";
import { KeyName, PROJECT, defaultOf } from "./keys";
import type { Values } from "./reader";

/** The tag save-images.sh names a tarball after (rayswarm_serving_dev.tar: rayswarm/serving:dev), when it follows that rule. */
function tagOfTarball(file: string): string {
  const m = /^([a-z0-9.-]+)_([a-z0-9._-]+)_([A-Za-z0-9.-]+)\.tar$/.exec(path.basename(file));
  return m ? `${m[1]}/${m[2]}:${m[3]}` : "<image>";
}

/** The tarball save-images.sh writes for `tag` into `dir` (rayswarm/serving:dev: rayswarm_serving_dev.tar). */
function tarballOf(dir: string, tag: string): string {
  return `${dir}/${tag.replace(/[/:]/g, "_")}.tar`;
}

/** The commands that build this project's images and save one as a tarball in `dir`. */
function tarballCommand(dir: string, tag: string): string {
  const image = /^rayswarm\/([a-z0-9-]+):/.exec(tag)?.[1];
  const build = image ? `bash scripts/images/build-images.sh ${image} && ` : "";
  return `${build}bash scripts/images/save-images.sh ${dir} ${tag} (bash scripts/deploy-local.sh makes the local stack's)`;
}

export interface Delivered {
  /** tag -> the tarball that carries it (the tarballs that exist and read as `docker save` files) */
  readonly tags: ReadonlyMap<string, string>;
  /** Every listed tarball was read (else the delivery rule below is not checked). */
  readonly readable: boolean;
}

/**
 * Reads the listed tarballs (relative paths are relative to the project folder, where pulumi
 * runs). deploy: infrastructure loads no image: the files need not exist then.
 * @param valid rayswarm:imageTarballs was a valid list
 */
export function readTarballs(c: Values, valid: boolean, problems: string[]): Delivered {
  const tags = new Map<string, string>();
  let readable = valid;
  for (const t of valid && c.deploy === "platform" ? c.imageTarballs : []) {
    if (!fs.existsSync(path.resolve(t))) {
      readable = false;
      problems.push(`${PROJECT}:imageTarballs: ${t} does not exist: make it with ${tarballCommand(path.dirname(t), tagOfTarball(t))}`);
      continue;
    }
    try {
      for (const tag of Object.keys(tarballImages(path.resolve(t)))) tags.set(tag, t);
    } catch (e) {
      readable = false;
      problems.push(`${PROJECT}:imageTarballs: ${(e as Error).message}: make it with ${tarballCommand(path.dirname(t), tagOfTarball(t))}`);
    }
  }
  return { tags, readable };
}

/**
 * On OpenStack every image the swarm runs (the prediction service, RabbitMQ and Redis, which get
 * the stack's Docker secrets, and the monitoring relay and exporter) is one this project builds,
 * delivered as a tarball and run by its image ID, or an image named by digest; never whatever a
 * tag names on a public registry. (local delivers its tarballs the same way; existing machines
 * may have their images already.)
 */
export function deliveryProblems(c: Values, delivered: Delivered): string[] {
  if (c.environment !== "openstack" || c.deploy !== "platform" || !delivered.readable) return [];
  const swarmImages: KeyName[] = ["servingImage", "rabbitmqImage", "redisImage", ...(c.monitoring ? ["monitoringImage" as const] : [])];
  const listed = c.imageTarballs.length ? c.imageTarballs.join(", ") : "none listed";
  const problems: string[] = [];
  for (const key of swarmImages) {
    const ref = c[key] as string;
    if (PINNED_RE.test(ref) || delivered.tags.has(ref)) continue;
    const own = String(defaultOf(key));
    const make = (tag: string) =>
      `make it with ${tarballCommand(".local/images", tag)} and list ${tarballOf(".local/images", tag)} in ${PROJECT}:imageTarballs`;
    problems.push(
      `${PROJECT}:${key} ${ref} is in no ${PROJECT}:imageTarballs file (${listed}): the swarm runs the images this project builds, delivered as tarballs: ` +
        (/^rayswarm\//.test(ref) ? make(ref) : `set ${PROJECT}:${key} to this project's ${own} and ${make(own)}`) +
        " (or name an image by digest: name@sha256:…)",
    );
  }
  return problems;
}
