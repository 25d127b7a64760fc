#!/usr/bin/env bash
# Usage: base-image.sh [image-tag]   (default debian:bookworm)
#
# Provide the `debian:bookworm` base image on a machine with no registry:
# debootstrap a minimal bookworm rootfs, tar it, `docker import` it under the tag
# the Dockerfiles expect. The tarball is cached in
# ${RAYSWARM_CACHE:-/var/cache/rayswarm}/images/debian-bookworm-rootfs.tar, so
# re-creating the image after `docker system prune` takes seconds.
# Idempotent: exits at once when the image already exists.
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

log() { echo "base-image: $*" >&2; }

tag="${1:-debian:bookworm}"
suite="bookworm"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache_dir="${RAYSWARM_CACHE:-/var/cache/rayswarm}/images"
tarball="$cache_dir/debian-$suite-rootfs.tar"

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag already present"
  exit 0
fi

mkdir -p "$cache_dir"
if [[ ! -s "$tarball" ]]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  fi
  work="$(mktemp -d /var/tmp/rayswarm-debootstrap.XXXXXX)"
  trap 'rm -rf "$work"' EXIT
  log "debootstrap $suite from $mirror"
  debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 30 "$work/debootstrap.log" >&2; log "debootstrap failed"; exit 1; }
  # Same trims as the official image: no apt lists/caches, deb-src-free sources.
  rm -rf "$work/rootfs/var/lib/apt/lists/"* "$work/rootfs/var/cache/apt/"*.bin
  echo "deb $mirror $suite main" >"$work/rootfs/etc/apt/sources.list"
  echo "deb $mirror $suite-updates main" >>"$work/rootfs/etc/apt/sources.list"
  echo "deb http://deb.debian.org/debian-security $suite-security main" >>"$work/rootfs/etc/apt/sources.list"
  tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

log "docker import $tarball as $tag"
docker import --change 'CMD ["bash"]' "$tarball" "$tag" >/dev/null
log "$tag ready"
