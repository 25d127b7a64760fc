#!/usr/bin/env bash
# Usage: docker-install.sh
#
# Ensure the Docker engine is installed (Debian/Ubuntu `docker.io` from apt when no
# dockerd is present; an existing docker-ce install is kept) and running, and that
# `docker info` answers. With systemd: docker.service enabled + started. Without
# systemd (plain containers): dockerd started detached (log
# /var/log/rayswarm/dockerd.log). Waits up to DOCKER_WAIT_SECONDS (default 90).
# Idempotent; last stdout line is changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 0 ]] || usage_die "docker-install.sh"
require_root
wait_seconds="${DOCKER_WAIT_SECONDS:-90}"

if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
fi
ensure_cmd docker docker.io

if has_systemd; then
  if ! systemctl is-enabled --quiet docker.service 2>/dev/null; then
    log "enabling docker.service"
    systemctl enable docker.service >/dev/null 2>&1 || die "systemctl enable docker.service failed"
    mark_changed
  fi
  if ! systemctl is-active --quiet docker.service; then
    log "starting docker.service"
    systemctl start docker.service || {
      journalctl -u docker.service -n 20 --no-pager >&2 || true
      die "docker.service failed to start"
    }
    mark_changed
  fi
elif ! docker_ok; then
  log "no systemd: starting dockerd detached"
  fallback_start dockerd dockerd
  mark_changed
fi

wait_until "$wait_seconds" "the Docker engine to answer 'docker info'" docker_ok
log "docker $(docker version --format '{{.Server.Version}}') ready"
finish
