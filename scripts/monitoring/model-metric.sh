#!/usr/bin/env bash
# Usage: model-metric.sh <model-root>                   (e.g. /srv/rayswarm/models)
#
# On a production machine: run model-metric-loop.sh as the service rayswarm-model-metric,
# which writes the live model version (<model-root>/current) every 15 s as
#   rayswarm_model_live_info{version="<v>"} 1
# into the node exporter's textfile folder. With systemd: a unit, enabled and started,
# restarted when its definition changes. Without systemd: a detached process.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
RAYSWARM_STEP=model-metric

[[ $# -eq 1 ]] || usage_die "model-metric.sh <model-root>"
root=$1
[[ $root =~ ^/[A-Za-z0-9._/-]+$ ]] || die "model-root '$root' must be an absolute path without spaces"
require_root

name=rayswarm-model-metric
out=/var/lib/prometheus/node-exporter/rayswarm_model.prom
install -d -m 0755 /var/lib/prometheus/node-exporter
loop="$(cd "$(dirname "$0")" && pwd)/model-metric-loop.sh"
exec_line="/bin/bash $loop $root $out"
if has_systemd; then
  if write_if_changed "/etc/systemd/system/$name.service" 0644 <<<"[Unit]
Description=rayswarm: live model version for the node exporter (scripts/monitoring/model-metric.sh)

[Service]
Type=simple
ExecStart=$exec_line
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target"; then
    systemctl daemon-reload
    systemctl enable "$name.service" >/dev/null 2>&1 || die "systemctl enable $name failed"
    systemctl restart "$name.service" || die "systemctl restart $name failed"
    mark_changed
  elif ! systemctl is-active --quiet "$name.service"; then
    systemctl enable "$name.service" >/dev/null 2>&1 || true
    systemctl start "$name.service" || die "systemctl start $name failed"
    mark_changed
  fi
else
  mkdir -p /etc/rayswarm/units
  restart=false
  if write_if_changed "/etc/rayswarm/units/$name.service" 0644 <<<"$exec_line"; then restart=true; fi
  if [[ $restart == true ]] || ! fallback_running "$name"; then
    fallback_stop "$name"
    # shellcheck disable=SC2086 # exec_line is a validated word list
    fallback_start "$name" $exec_line 3>&-
    mark_changed
  fi
fi
wait_until 30 "$out to be written" test -s "$out"
finish
