#!/usr/bin/env bash
# Usage: promotion-production.sh <model-root> <keep-versions>     (STDIN: the deploy PUBLIC key)
#
# On every production machine: build the gate's venv (numpy + onnxruntime only, from the
# bundle's tuning/requirements-gate.txt, with the system python so the `git` user can run it)
# and set up the git user, bare repo and hooks (../promotion/setup-production.sh).
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=promotion-production

[[ $# -eq 2 ]] || usage_die "promotion-production.sh <model-root> <keep-versions>"
root=$1 keep=$2
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

out=$(bash "$bundle/promotion/setup-production.sh" "$root" "$keep" "$gate_python" /opt/rayswarm/gate)
printf '%s\n' "$out" | sed '$d' >&2
[[ "$(printf '%s\n' "$out" | tail -n 1)" == "changed=false" ]] || mark_changed
finish
