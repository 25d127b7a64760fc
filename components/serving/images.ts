/**
 * Images delivered as `docker save` tarballs (machines without a registry): which image IDs a
 * tarball carries, read from its manifest.json without unpacking it, and the stack file's
 * references pinned to those IDs, so a swarm runs exactly the image that was delivered and never
 * whatever a tag names on some machine or registry.
 */
import * as fs from "fs";

/** An image ID (`sha256:` + 64 hex): what `docker images --no-trunc` shows and a swarm runs as is. */
export const IMAGE_ID_RE = /^sha256:[0-9a-f]{64}$/;
/** A reference pinned by digest (`name@sha256:…`) or an image ID: never moves. */
export const PINNED_RE = /(^|@)sha256:[0-9a-f]{64}$/;

/**
 * The tags of a `docker save` tarball and the image ID each names (the config blob's digest):
 * the tar headers are walked (file bodies are skipped) to manifest.json. Throws with the file's
 * name when it is not a `docker save` tarball.
 */
export function tarballImages(file: string): Record<string, string> {
  const manifest = readTarMember(file, "manifest.json");
  if (manifest === undefined) throw new Error(`${file} has no manifest.json: not a \`docker save\` tarball`);
  let entries: { Config?: string; RepoTags?: string[] | null }[];
  try {
    entries = JSON.parse(manifest);
  } catch {
    throw new Error(`${file}: manifest.json is not JSON: not a \`docker save\` tarball`);
  }
  const out: Record<string, string> = {};
  for (const e of Array.isArray(entries) ? entries : []) {
    // docker < 25: "<hex>.json"; docker >= 25 (OCI layout): "blobs/sha256/<hex>"
    const hex = /([0-9a-f]{64})(\.json)?$/.exec(e.Config ?? "")?.[1];
    if (!hex) continue;
    for (const tag of e.RepoTags ?? []) out[tag] = `sha256:${hex}`;
  }
  return out;
}

/** One member's text, or undefined when the archive has none of that name (ustar, GNU long names ignored). */
function readTarMember(file: string, name: string): string | undefined {
  const fd = fs.openSync(file, "r");
  try {
    const header = Buffer.alloc(512);
    const size = fs.fstatSync(fd).size;
    let pos = 0;
    while (pos + 512 <= size) {
      if (fs.readSync(fd, header, 0, 512, pos) !== 512) return undefined;
      if (header.every((b) => b === 0)) return undefined; // end of archive
      const field = (at: number, len: number) =>
        header
          .subarray(at, at + len)
          .toString("latin1")
          .replace(/\0.*$/s, "");
      const prefix = field(345, 155);
      const member = (prefix ? `${prefix}/` : "") + field(0, 100);
      const length = parseInt(field(124, 12).trim() || "0", 8);
      if (Number.isNaN(length)) throw new Error(`${file}: not a tar archive`);
      if (member.replace(/^\.\//, "") === name) {
        const body = Buffer.alloc(length);
        fs.readSync(fd, body, 0, length, pos + 512);
        return body.toString("utf8");
      }
      pos += 512 + Math.ceil(length / 512) * 512;
    }
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Every tag the tarballs carry, with its image ID and the tarball it came from. */
export function carriedImages(tarballs: readonly string[]): Map<string, { id: string; tarball: string }> {
  const carried = new Map<string, { id: string; tarball: string }>();
  for (const t of tarballs) for (const [tag, id] of Object.entries(tarballImages(t))) carried.set(tag, { id, tarball: t });
  return carried;
}

/** `ref` as a stack file names it: the image ID when a tarball carries it, else `ref` as given. */
export function pinnedRef(ref: string, carried: ReadonlyMap<string, { id: string }>): string {
  return (carried.get(ref) ?? carried.get(normalTag(ref)))?.id ?? ref;
}

/** `name` without a tag means `name:latest`, as docker saves it. */
function normalTag(ref: string): string {
  return /:[^/]+$/.test(ref) || ref.includes("@") ? ref : `${ref}:latest`;
}
