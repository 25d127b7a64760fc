#!/usr/bin/env bash
# Usage: promote-once.sh <repo-dir> <model-dir>
#
# On the development machine: promote <model-dir> through the git hooks (../promotion/promote.sh)
# unless its version was already committed to the models repo at some point. That makes the
# initial promotion of `pulumi up` idempotent: running it again after newer models were
# promoted must not push the older initial model back (the gate would reject it anyway).
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP="promote-once"

[[ $# -eq 2 ]] || usage_die "promote-once.sh <repo-dir> <model-dir>"
repo=$1 model=$2
require_root
[[ -f "$model/model.json" ]] || die "$model has no model.json"
version=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' "$model/model.json") ||
  die "cannot read the version from $model/model.json"
if git -C "$repo" rev-parse --verify --quiet HEAD >/dev/null &&
  git -C "$repo" log --format=%B | grep -qxF "Model-Version: $version"; then
  log "model $version was promoted before: nothing to do"
else
  bash "$(dirname "$0")/../promotion/promote.sh" "$repo" "$model" >&2 || die "promoting $version failed (see above)"
  mark_changed
fi
finish
