#!/usr/bin/env bash
# Usage: model-metric-loop.sh <model-root> <out-file> [--once]
#
# Every 15 s (once with --once): write the version `<model-root>/current` points at
# (current -> versions/<v>) as Prometheus text to <out-file>, atomically:
#   rayswarm_model_present 1
#   rayswarm_model_live_info{version="<v>"} 1
#   rayswarm_model_switch_timestamp_seconds <mtime of the link>
# No `current` yet: rayswarm_model_present 0 only. Run by model-metric.sh.
set -euo pipefail

[[ $# -ge 2 ]] || { echo "usage: model-metric-loop.sh <model-root> <out-file> [--once]" >&2; exit 2; }
root=$1 out=$2 once=${3:-}

write_once() {
  local target version tmp
  tmp="$out.tmp.$$"
  if target=$(readlink "$root/current" 2>/dev/null) && [[ -d "$root/current" ]]; then
    target=${target%/}
    version=${target##*/}
    # keep label values clean: only the characters a version id has
    version=${version//[^A-Za-z0-9._:-]/_}
    {
      echo "# HELP rayswarm_model_live_info Model version the current link points at (value 1)."
      echo "# TYPE rayswarm_model_live_info gauge"
      echo "rayswarm_model_live_info{version=\"$version\"} 1"
      echo "# HELP rayswarm_model_present Whether a current model exists on this machine."
      echo "# TYPE rayswarm_model_present gauge"
      echo "rayswarm_model_present 1"
      echo "# HELP rayswarm_model_switch_timestamp_seconds When the current link last changed."
      echo "# TYPE rayswarm_model_switch_timestamp_seconds gauge"
      echo "rayswarm_model_switch_timestamp_seconds $(stat -c %Y "$root/current" 2>/dev/null || echo 0)"
    } >"$tmp"
  else
    {
      echo "# HELP rayswarm_model_present Whether a current model exists on this machine."
      echo "# TYPE rayswarm_model_present gauge"
      echo "rayswarm_model_present 0"
    } >"$tmp"
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$out"
}

while :; do
  write_once
  [[ $once == --once ]] && exit 0
  sleep 15
done
