#!/usr/bin/env bash
# promote.sh <repo-dir> <model-dir>
#
# Copies <model-dir>/model.onnx + model.json into the models repo and commits them
# ("promote <version>", trailer Model-Version: <version>); the repo's post-commit hook
# pushes to every production machine, whose pre-receive hook runs the gate.
# Exit 0 = live on every host; 1 = some host rejected (each named with the gate's reason);
# 2 = usage. Nothing to do (same files as HEAD) = exit 0.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/promotion/lib/dev.sh
. "$here/lib/dev.sh"
if [[ $# -ne 2 ]]; then
  echo "usage: $0 <repo-dir> <model-dir>" >&2
  exit 2
fi
repo=$1 model=$2
check_repo "$repo"
for f in model.onnx model.json; do
  [[ -f $model/$f ]] || die "$model has no $f"
done
version=$(card_version "$model/model.json") || exit 1
cp -f -- "$model/model.onnx" "$model/model.json" "$repo/"
git -C "$repo" add -- model.onnx model.json
if git -C "$repo" rev-parse --verify --quiet HEAD >/dev/null && git -C "$repo" diff --cached --quiet; then
  echo "promotion: $version is already the committed model; nothing to do"
  exit 0
fi
commit_and_check "$repo" -m "promote $version" -m "Model-Version: $version"
