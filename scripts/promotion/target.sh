#!/usr/bin/env bash
# target.sh add|remove <repo-dir> <prod-user@host[:port]>
#
# Run on the development machine after setup-development.sh. One production machine at a
# time, so that adding a machine never touches the others (the program runs one step per
# machine: scale-out only adds steps). Idempotent; last stdout line: changed=true|false.
#  add:    the machine's push URL joins remote `production` (the post-commit hook pushes every
#          commit to it); when the repo already has a model (HEAD), it is pushed to the new
#          machine at once, through its gate, so a machine added later serves the live model.
#  remove: the push URL leaves remote `production` (the machine is being taken away).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/promotion/lib/dev.sh
source "$here/lib/dev.sh"
[[ $# -eq 3 && ($1 == add || $1 == remove) ]] || { echo "usage: $0 add|remove <repo-dir> <prod-user@host[:port]>" >&2; exit 2; }
action=$1 repo=$2
url=$(target_url "$3" "${PROMOTION_REMOTE_PATH:-models.git}") || exit 2
[[ -d $repo/.git ]] || die "$repo is not a git working repo (run setup-development.sh first)"
changed=false
mapfile -t have < <(git -C "$repo" config --get-all remote.production.pushurl || true)
present=false
for u in "${have[@]}"; do [[ $u == "$url" ]] && present=true; done

if [[ $action == remove ]]; then
  if $present; then
    git -C "$repo" config --fixed-value --unset-all remote.production.pushurl "$url"
    changed=true
    echo "promotion: $url no longer receives models" >&2
  fi
  echo "changed=$changed"
  exit 0
fi

if ! git -C "$repo" remote get-url production >/dev/null 2>&1; then
  git -C "$repo" remote add production "$url"
  changed=true
fi
if ! $present; then
  git -C "$repo" config --add remote.production.pushurl "$url"
  changed=true
fi
if git -C "$repo" rev-parse --verify --quiet HEAD >/dev/null; then
  head=$(git -C "$repo" rev-parse HEAD)
  # Nothing is sent when the machine has this commit already (a second run).
  if ! out=$(git -C "$repo" push --porcelain "$url" "$head:refs/heads/main" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/  | /' >&2
    die "the live model ($(git -C "$repo" log -1 --format=%s "$head")) was refused by $url"
  fi
  if grep -q '^\*' <<<"$out" || grep -qE '^[+ ]?[[:space:]]*[^=]*[0-9a-f]+\.\.[0-9a-f]+' <<<"$out"; then
    changed=true
    echo "promotion: $url now serves $(git -C "$repo" log -1 --format=%s "$head")" >&2
  fi
fi
echo "changed=$changed"
