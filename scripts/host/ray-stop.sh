#!/usr/bin/env bash
# Usage: ray-stop.sh
#
# Undo ray-head.sh / ray-worker.sh (delete, scale-in): stop, disable and remove
# rayswarm-ray.service, then `ray stop --force` for any Ray process left. The venv
# stays. Idempotent. stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"

[[ $# -eq 0 ]] || usage_die "ray-stop.sh"
require_root

unit_file="/etc/systemd/system/$RAY_UNIT.service"
if has_systemd; then
  if systemctl is-active --quiet "$RAY_UNIT.service" || systemctl is-enabled --quiet "$RAY_UNIT.service" 2>/dev/null; then
    log "stopping and disabling $RAY_UNIT.service"
    systemctl disable --now "$RAY_UNIT.service" >/dev/null 2>&1 || die "systemctl disable --now $RAY_UNIT failed"
    mark_changed
  fi
  if [[ -e "$unit_file" ]]; then
    rm -f "$unit_file"
    systemctl daemon-reload
    systemctl reset-failed "$RAY_UNIT.service" >/dev/null 2>&1 || true
    mark_changed
  fi
fi
if fallback_running "$RAY_UNIT" || [[ -e "/etc/rayswarm/units/$RAY_UNIT.service" ]]; then
  fallback_stop "$RAY_UNIT"
  rm -f "/etc/rayswarm/units/$RAY_UNIT.service"
  mark_changed
fi

ray_left() { pgrep -f '/(raylet|gcs_server)( |$)' >/dev/null 2>&1; }
if ray_left; then
  log "stopping leftover Ray processes"
  if [[ -x "$RAY_VENV/bin/ray" ]]; then
    "$RAY_VENV/bin/ray" stop --force >/dev/null 2>&1 || true
  fi
  pkill -KILL -f '/(raylet|gcs_server)( |$)' 2>/dev/null || true
  mark_changed
fi
finish
