#!/usr/bin/env bash
# Usage: promotion-production.sh <model-root> <keep-versions> [<eval-set> <eval-sha256> <min-improvement>]
#        (STDIN: the deploy PUBLIC key)
#
# On every production machine: build the gate's venv (numpy + onnxruntime only, from the
# bundle's tuning/requirements-gate.txt, with the system python so the `git` user can run it)
# and set up the git user, bare repo and hooks (../promotion/setup-production.sh).
# <eval-set>: an evaluation set manifest of the tuning package (e.g. evalsets/diabetes-v1.json,
# relative to rayswarm_tuning/) that the gate scores the live model and every candidate on;
# its CSV must have <eval-sha256>; a candidate needs a relative improvement of <min-improvement>.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=promotion-production

[[ $# -eq 2 || $# -eq 5 ]] || usage_die "promotion-production.sh <model-root> <keep-versions> [<eval-set> <eval-sha256> <min-improvement>]"
root=$1 keep=$2 eval_set=${3:-} eval_sha=${4:-} margin=${5:-}
require_root
bundle="$(cd "$(dirname "$0")/.." && pwd -P)"
ensure_cmd git git
ensure_cmd python3 python3
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv

gate_python=$(retry 3 bash "$bundle/promotion/gate-venv.sh" "$bundle/tuning/requirements-gate.txt" /usr/bin/python3 </dev/null | tail -n 1)
[[ -x "$gate_python" ]] || die "gate-venv.sh printed no usable python ($gate_python)"
# The tuning sources go to a fixed place readable by the git user (the bundle path changes).
install -d -m 0755 /opt/rayswarm/gate
cp -a "$bundle/tuning/rayswarm_tuning" /opt/rayswarm/gate/ || die "copying the gate sources to /opt/rayswarm/gate failed"
chmod -R a+rX /opt/rayswarm/gate

if [[ -n $eval_set ]]; then
  [[ $eval_set != /* && $eval_set != *..* ]] || die "<eval-set> must be a path inside rayswarm_tuning/ (got $eval_set)"
  export PROMOTION_EVAL_SET="/opt/rayswarm/gate/rayswarm_tuning/$eval_set"
  export PROMOTION_EVAL_SHA256=$eval_sha PROMOTION_MIN_IMPROVEMENT=$margin
  PYTHONPATH=/opt/rayswarm/gate "$gate_python" -m rayswarm_tuning.evalset check "$PROMOTION_EVAL_SET" >&2 ||
    die "the evaluation set $PROMOTION_EVAL_SET does not check out"
fi
out=$(bash "$bundle/promotion/setup-production.sh" "$root" "$keep" "$gate_python" /opt/rayswarm/gate)
printf '%s\n' "$out" | sed '$d' >&2
[[ "$(printf '%s\n' "$out" | tail -n 1)" == "changed=false" ]] || mark_changed
finish
