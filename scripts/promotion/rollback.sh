#!/usr/bin/env bash
# rollback.sh <repo-dir> [<version>]
#
# Brings back the previous accepted model (or <version>) through the same hooks: takes
# model.onnx + model.json from the newest earlier commit on main whose version differs
# from the current one (or equals <version>), and commits them as
# "rollback to <version>" with the trailer `Rollback-To: <version>`. The post-commit hook
# pushes; each production pre-receive honours the trailer only if that version was
# accepted on that machine before with the same files, then runs the gate with
# --allow-rollback (all checks except "metric is better").
# Exit 0 = rolled back on every host; 1 = refused somewhere (named); 2 = usage.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/promotion/lib/dev.sh
. "$here/lib/dev.sh"
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 <repo-dir> [<version>]" >&2
  exit 2
fi
repo=$1 want=${2:-}
check_repo "$repo"
if ! git -C "$repo" diff --quiet HEAD --; then
  die "$repo has uncommitted changes"
fi
cur=$(rev_version "$repo" HEAD)
[[ -n $cur ]] || die "HEAD has no model to roll back from"
[[ $want != "$cur" ]] || die "$want is already the current model"
pick='' pick_version=''
while read -r rev; do
  v=$(rev_version "$repo" "$rev")
  [[ -n $v && $v != "$cur" ]] || continue
  if [[ -z $want || $v == "$want" ]]; then pick=$rev pick_version=$v; break; fi
done < <(git -C "$repo" rev-list --first-parent HEAD~1 2>/dev/null)
[[ -n $pick ]] || die "no earlier commit holds ${want:-a version other than $cur}"
git -C "$repo" checkout --quiet "$pick" -- model.onnx model.json
echo "promotion: rolling back $cur -> $pick_version (from commit ${pick:0:12})"
commit_and_check "$repo" -m "rollback to $pick_version (was $cur)" -m "Rollback-To: $pick_version"
