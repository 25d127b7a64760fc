#!/usr/bin/env bash
# Usage: tune-initial.sh <ray-address host:port> <out-dir> <trials> <time-budget-seconds>
#
# On the Ray head: run the initial tuning job once, so production has a model after the first
# `pulumi up`. Uses the venv of ray-install.sh and the tuning workload installed with the
# bundle (/opt/rayswarm/current/tuning). Idempotent: when <out-dir> already holds a model
# (model.onnx + model.json) nothing runs. The search goes to a temporary folder that is renamed
# into place only when the export succeeded, so a failed run leaves nothing half-written.
# stdout: `version=<model version>`, then changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=tune-initial

[[ $# -eq 4 ]] || usage_die "tune-initial.sh <ray-address host:port> <out-dir> <trials> <time-budget-seconds>"
address=$1 out=$2 trials=$3 budget=$4
require_root
require_ray
tuning_src="$(cd "$(dirname "$0")/../tuning" && pwd)"

version_of() { "$RAY_VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$1/model.json"; }

if [[ -f "$out/model.onnx" && -f "$out/model.json" ]]; then
  log "a model is already in $out (version $(version_of "$out")): nothing to do"
  emit "version=$(version_of "$out")"
  finish
  exit 0
fi

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
log "tuning on the Ray cluster at $address: $trials trials, time budget ${budget}s; progress every 10s"
start=$(date +%s)
if ! (cd "$tuning_src" && PYTHONPATH="$tuning_src" "$RAY_VENV/bin/python" -m rayswarm_tuning.tune \
  --data builtin:diabetes --target target --out "$tmp" --address "$address" \
  --trials "$trials" --time-budget "$budget" --progress-interval 10) >&2; then
  die "the tuning job failed (see the lines above)"
fi
[[ -f "$tmp/model.onnx" && -f "$tmp/model.json" ]] || die "the tuning job wrote no model.onnx/model.json"
chmod -R a+rX "$tmp"
mv -T "$tmp" "$out"
trap - EXIT
log "model $(version_of "$out") written to $out in $(( $(date +%s) - start ))s"
mark_changed
emit "version=$(version_of "$out")"
finish
