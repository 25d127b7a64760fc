#!/usr/bin/env bash
# Usage: save-images.sh <out-dir> [image-tag...]
#
# Write one `docker save` tarball per image into <out-dir> (named after the tag,
# e.g. rayswarm_serving_dev.tar) for preloading onto hosts that have no registry:
#   docker load -i rayswarm_serving_dev.tar
# Default tags: rayswarm/serving:dev rayswarm/rabbitmq:3 rayswarm/redis:7
# rayswarm/monitoring:2 rayswarm/tiny:dev (those that exist; a missing one is reported and
# skipped).
# A tarball is rewritten only when the image ID changed (ID kept in <tar>.id).
set -euo pipefail

log() { echo "save-images: $*" >&2; }
[[ $# -ge 1 ]] || { echo "usage: save-images.sh <out-dir> [image-tag...]" >&2; exit 2; }
out="$1"
shift
if [[ $# -gt 0 ]]; then
  tags=("$@")
else
  tags=(rayswarm/serving:dev rayswarm/rabbitmq:3 rayswarm/redis:7 rayswarm/monitoring:2 rayswarm/tiny:dev)
fi
mkdir -p "$out"
for tag in "${tags[@]}"; do
  if ! id="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null)"; then
    log "skipping $tag: no such image (build it with build-images.sh)"
    continue
  fi
  file="$out/$(echo "$tag" | tr '/:' '__').tar"
  if [[ -s "$file" && "$(cat "$file.id" 2>/dev/null)" == "$id" ]]; then
    log "$file is up to date"
    continue
  fi
  log "saving $tag to $file"
  docker save -o "$file.tmp" "$tag"
  mv -f "$file.tmp" "$file"
  echo "$id" >"$file.id"
done
