#!/usr/bin/env bash
# Usage: stop.sh
#
# Undo of the monitoring on a machine (delete step): stop and disable what the monitoring
# scripts started here - prometheus, prometheus-alertmanager, prometheus-node-exporter,
# rayswarm-model-metric (systemd units or the detached fallbacks). The packages and their
# data stay (removing the component must not lose the history). Nothing to stop: no change.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
RAYSWARM_STEP=monitoring-stop

[[ $# -eq 0 ]] || usage_die "stop.sh"
require_root

for name in prometheus prometheus-alertmanager prometheus-node-exporter rayswarm-model-metric; do
  if has_systemd; then
    if systemctl is-active --quiet "$name.service" 2>/dev/null || systemctl is-enabled --quiet "$name.service" 2>/dev/null; then
      log "stopping $name"
      systemctl disable --now "$name.service" >/dev/null 2>&1 || log "WARNING: could not stop $name"
      mark_changed
    fi
  elif fallback_running "$name"; then
    log "stopping $name"
    fallback_stop "$name"
    mark_changed
  fi
  rm -f "/etc/rayswarm/units/$name.service"
done
if [[ -f /etc/systemd/system/rayswarm-model-metric.service ]]; then
  rm -f /etc/systemd/system/rayswarm-model-metric.service
  if has_systemd; then systemctl daemon-reload; fi
  mark_changed
fi
rm -f /var/lib/prometheus/node-exporter/rayswarm_model.prom
finish
