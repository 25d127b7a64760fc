#!/usr/bin/env bash
# Usage: image-load.sh <tarball>
#
# Load a `docker save` tarball into this machine's engine (for machines without a registry),
# once: the tarball's sha256 is stamped in /var/lib/rayswarm/images/ after a successful load,
# and the copied tarball is removed. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=image-load

[[ $# -eq 1 ]] || usage_die "image-load.sh <tarball>"
tar=$1
require_root
require_docker
stamps=/var/lib/rayswarm/images
install -d -m 0755 "$stamps"
if [[ ! -f "$tar" ]]; then
  # Already loaded and cleaned up by an earlier run.
  [[ -n "$(ls -A "$stamps" 2>/dev/null)" ]] || die "$tar is missing and no image was ever loaded"
  finish
  exit 0
fi
sum=$(sha256sum "$tar" | cut -d' ' -f1)
if [[ ! -f "$stamps/$sum" ]]; then
  log "loading $(basename "$tar") ($(du -h "$tar" | cut -f1))"
  docker load -i "$tar" | tee "$stamps/$sum.tmp" >&2 || die "docker load -i $tar failed"
  mv "$stamps/$sum.tmp" "$stamps/$sum"
  mark_changed
fi
rm -f "$tar"
finish
