#!/usr/bin/env bash
# Usage: start-dockerd.sh
#
# Make sure a Docker engine answers on this machine (which has no systemd):
#   - installs docker.io from apt if dockerd is missing,
#   - starts dockerd in the background when `docker info` fails,
#   - waits (bounded, DOCKERD_WAIT_SECONDS, default 60) until it answers.
# Idempotent: a running engine is left alone. dockerd logs to
# ${DOCKERD_LOG:-/var/log/dockerd.log}.
set -euo pipefail

log() { echo "start-dockerd: $*" >&2; }

wait_seconds="${DOCKERD_WAIT_SECONDS:-60}"
log_file="${DOCKERD_LOG:-/var/log/dockerd.log}"

if docker info >/dev/null 2>&1; then
  log "dockerd already running"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing docker.io from apt"
  export DEBIAN_FRONTEND=noninteractive
  for attempt in 1 2 3; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null; then
      break
    fi
    [[ $attempt -lt 3 ]] || { log "apt-get install docker.io failed"; exit 1; }
    sleep $((attempt * 5))
  done
fi

# Another caller may have started it meanwhile; only start when no dockerd process runs.
if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: $log_file)"
  mkdir -p "$(dirname "$log_file")"
  # setsid + nohup: survive the caller's shell and job-control group.
  setsid nohup dockerd >>"$log_file" 2>&1 </dev/null &
fi

for ((i = 0; i < wait_seconds; i++)); do
  if docker info >/dev/null 2>&1; then
    log "dockerd ready after ${i}s"
    exit 0
  fi
  sleep 1
done
log "dockerd not ready after ${wait_seconds}s; last log lines:"
tail -n 20 "$log_file" >&2 || true
exit 1
