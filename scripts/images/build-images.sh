#!/usr/bin/env bash
# Usage: build-images.sh [image...]     (default: all)
#
# Build the local images (needs `debian:bookworm`: run base-image.sh first):
#   node      -> rayswarm/node:dev       (images/node: a VM-like host with systemd, sshd, Docker)
#   tiny      -> rayswarm/tiny:dev       (images/tiny: busybox for network tests in node engines)
#   rabbitmq  -> rayswarm/rabbitmq:3     (images/rabbitmq)
#   redis     -> rayswarm/redis:7        (images/redis)
#   monitoring -> rayswarm/monitoring:2  (images/monitoring: the in-swarm relay + Redis exporter)
#   serving   -> rayswarm/serving:dev    (workloads/serving, only if its Dockerfile exists)
# Docker's layer cache makes a rebuild with unchanged inputs take seconds.
# Env: RAYSWARM_BUILD_ARGS (extra `docker build` flags, e.g. --pull=false);
#      RAYSWARM_EXTRA_CA_DIR (default /usr/local/share/ca-certificates): its *.crt are
#      passed as --build-arg EXTRA_CA_CERTS to Dockerfiles that declare that ARG
#      (TLS-intercepting proxies; used in build stages only).
set -euo pipefail

log() { echo "build-images: $*" >&2; }
root="$(cd "$(dirname "$0")/../.." && pwd)"
ca_dir="${RAYSWARM_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"

declare -A tags=(
  [node]=rayswarm/node:dev
  [tiny]=rayswarm/tiny:dev
  [rabbitmq]=rayswarm/rabbitmq:3
  [redis]=rayswarm/redis:7
  [monitoring]=rayswarm/monitoring:2
  [serving]=rayswarm/serving:dev
)
declare -A contexts=(
  [node]="$root/images/node"
  [tiny]="$root/images/tiny"
  [rabbitmq]="$root/images/rabbitmq"
  [redis]="$root/images/redis"
  [monitoring]="$root/images/monitoring"
  [serving]="$root/workloads/serving"
)

if [[ $# -gt 0 ]]; then
  images=("$@")
else
  images=(node tiny rabbitmq redis monitoring serving)
fi

docker image inspect debian:bookworm >/dev/null 2>&1 ||
  { log "debian:bookworm missing: run scripts/images/base-image.sh first"; exit 1; }

for name in "${images[@]}"; do
  [[ -n "${tags[$name]:-}" ]] || { log "unknown image '$name' (known: ${!tags[*]})"; exit 2; }
  context="${contexts[$name]}"
  if [[ ! -f "$context/Dockerfile" ]]; then
    if [[ "$name" == serving ]]; then
      log "skipping serving: $context/Dockerfile does not exist yet"
      continue
    fi
    log "missing $context/Dockerfile"
    exit 1
  fi
  log "building ${tags[$name]} from ${context#"$root"/}"
  start=$SECONDS
  extra=()
  if grep -q '^ARG EXTRA_CA_CERTS' "$context/Dockerfile" && compgen -G "$ca_dir/*.crt" >/dev/null; then
    extra=(--build-arg "EXTRA_CA_CERTS=$(cat "$ca_dir"/*.crt)")
  fi
  # shellcheck disable=SC2086 # RAYSWARM_BUILD_ARGS is a list of flags
  if ! docker build -q ${RAYSWARM_BUILD_ARGS:-} "${extra[@]}" -t "${tags[$name]}" "$context" >/dev/null 2>"/tmp/rayswarm-build-$name.log"; then
    tail -n 40 "/tmp/rayswarm-build-$name.log" >&2
    log "building ${tags[$name]} failed (full log: /tmp/rayswarm-build-$name.log)"
    exit 1
  fi
  log "${tags[$name]} built in $((SECONDS - start))s ($(docker image inspect -f '{{.Size}}' "${tags[$name]}" | awk '{printf "%.0f MB", $1/1e6}'))"
done
