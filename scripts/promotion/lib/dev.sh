# shellcheck shell=bash
# Shared by promote.sh and rollback.sh (development side). Sourced.

die() { echo "promotion: $*" >&2; exit 1; }

# card_version <json-file>: the model card's version.
card_version() {
  "${PROMOTION_PYTHON:-python3}" -c '
import json, sys
try:
    v = json.load(open(sys.argv[1], encoding="utf-8"))["version"]
except Exception as exc:
    sys.exit(f"{sys.argv[1]}: no readable version: {exc}")
if not isinstance(v, str) or not v:
    sys.exit(f"{sys.argv[1]}: version must be a non-empty string")
print(v)' "$1"
}

# rev_version <repo> <rev>: the version in <rev>:model.json, or nothing.
rev_version() {
  local tmp v
  tmp=$(mktemp)
  if git -C "$1" show "$2:model.json" >"$tmp" 2>/dev/null; then
    v=$(card_version "$tmp" 2>/dev/null || true)
  fi
  rm -f -- "$tmp"
  printf '%s\n' "${v:-}"
}

# target_url <user@host[:port] | /path | file://...> <remote-path>: the push URL of a production machine.
target_url() {
  case $1 in
    /* | file://*) printf '%s\n' "$1" ;;
    *@*) printf 'ssh://%s/~/%s\n' "$1" "$2" ;;
    *) echo "production target '$1' must be user@host[:port]" >&2; return 2 ;;
  esac
}

check_repo() {
  [[ -d $1/.git ]] || die "$1 is not a git working repo (run setup-development.sh)"
  [[ -x $1/.git/hooks/post-commit ]] || die "$1 has no post-commit hook (run setup-development.sh)"
  [[ $(git -C "$1" symbolic-ref --short HEAD 2>/dev/null) == main ]] || die "$1 is not on branch main"
}

# commit_and_check <repo> <message>...: commit the staged model; the post-commit hook pushes
# to every production host. Exit non-zero naming each host that did not take it. When NO
# host took it, the commit is undone (reset to the parent) so the repo keeps matching
# production; when only some did, it stays and the hosts have diverged (said loudly).
commit_and_check() {
  local repo=$1 status line url state reason ok=0 bad=0 msg
  shift
  status="$repo/.git/promotion/last-push"
  rm -f -- "$status"
  git -C "$repo" commit --quiet "$@" || die "git commit failed"
  [[ -f $status ]] || die "the post-commit hook did not run (no $status)"
  msg=()
  while IFS= read -r line; do
    read -r url state reason <<<"$line"
    if [[ $state == ok ]]; then ok=$((ok + 1)); else bad=$((bad + 1)); msg+=("  $url: ${reason:-rejected}"); fi
  done <"$status"
  if [[ $bad -eq 0 ]]; then
    echo "promotion: live on $ok/$ok production host(s)"
    return 0
  fi
  printf 'promotion: REJECTED by %d of %d host(s):\n' "$bad" "$((ok + bad))" >&2
  printf '%s\n' "${msg[@]}" >&2
  if [[ $ok -eq 0 ]]; then
    if git -C "$repo" rev-parse --verify --quiet HEAD~1 >/dev/null; then
      git -C "$repo" reset --quiet --hard HEAD~1
    else
      git -C "$repo" update-ref -d HEAD
      git -C "$repo" rm --quiet --cached -r . >/dev/null 2>&1 || true
      rm -f -- "$repo/model.onnx" "$repo/model.json"
    fi
    echo "promotion: commit undone; $repo is back to what production serves" >&2
  else
    echo "promotion: WARNING hosts now serve different models; fix the rejecting hosts and retry" >&2
  fi
  return 1
}
