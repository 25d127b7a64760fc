#!/usr/bin/env bash
# install-hooks.sh <bare-repo> <model-root> <keep-K> <gate-python> <tuning-src> [<owner>]
#
# Creates (if missing) the bare models repo and the model root, and installs the
# production hooks (pre-receive, post-receive, promotion-lib.sh) and their config file
# <bare-repo>/promotion.conf. <owner> (default: the current user) owns the repo and the
# model root: the hooks run as the pushing user. Hooks and config belong to root (or the
# current user) and are read-only for <owner>. Idempotent; last stdout line is
# changed=true|false. Called by setup-production.sh; tests call it directly.
# Optional (environment): PROMOTION_EVAL_SET (evaluation set manifest the gate scores both
# models on), PROMOTION_EVAL_SHA256 (its CSV's expected sha256), PROMOTION_MIN_IMPROVEMENT
# (relative improvement needed; the gate's default 0.005 otherwise).
set -euo pipefail
umask 022
if [[ $# -lt 5 || $# -gt 6 ]]; then
  echo "usage: $0 <bare-repo> <model-root> <keep-K> <gate-python> <tuning-src> [<owner>]" >&2
  exit 2
fi
repo=$1 root=$2 keep=$3 gate_python=$4 tuning_src=$5 owner=${6:-$(id -un)}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
changed=false

[[ $keep =~ ^[0-9]+$ && $keep -ge 2 ]] || { echo "keep-K must be an integer >= 2 (got '$keep')" >&2; exit 2; }
[[ $repo == /* && $root == /* && $tuning_src == /* ]] || { echo "bare-repo, model-root and tuning-src must be absolute paths" >&2; exit 2; }
[[ -x $gate_python ]] || { echo "gate python '$gate_python' is not executable" >&2; exit 2; }
[[ -d $tuning_src/rayswarm_tuning ]] || { echo "'$tuning_src' has no rayswarm_tuning package" >&2; exit 2; }
id -u "$owner" >/dev/null 2>&1 || { echo "no user '$owner'" >&2; exit 2; }
group=$(id -gn "$owner")

if [[ ! -f $repo/HEAD ]]; then
  mkdir -p "$repo"
  git init --quiet --bare --initial-branch=main "$repo"
  changed=true
fi
set_cfg() {
  if [[ $(git --git-dir="$repo" config --get "$1" || true) != "$2" ]]; then
    git --git-dir="$repo" config "$1" "$2"
    changed=true
  fi
}
set_cfg receive.denyNonFastForwards true
set_cfg receive.denyDeletes true
set_cfg core.logAllRefUpdates true
set_cfg gc.auto 0

# install_file <src> <dest> <mode>
install_file() {
  if ! cmp -s "$1" "$2" || [[ $(stat -c %a "$2") != "$3" ]]; then
    install -m "$3" "$1" "$2"
    changed=true
  fi
}
mkdir -p "$repo/hooks"
install_file "$here/hooks/pre-receive" "$repo/hooks/pre-receive" 755
install_file "$here/hooks/post-receive" "$repo/hooks/post-receive" 755
install_file "$here/hooks/promotion-lib.sh" "$repo/hooks/promotion-lib.sh" 644

conf=$(mktemp)
trap 'rm -f -- "$conf"' EXIT
cat >"$conf" <<CONF
# Written by scripts/promotion/install-hooks.sh; read by hooks/promotion-lib.sh.
MODEL_ROOT=$root
KEEP=$keep
GATE_PYTHON=$gate_python
TUNING_SRC=$tuning_src
CONF
eval_set=${PROMOTION_EVAL_SET:-} eval_sha=${PROMOTION_EVAL_SHA256:-} margin=${PROMOTION_MIN_IMPROVEMENT:-}
if [[ -n $eval_set ]]; then
  [[ $eval_set == /* && -f $eval_set ]] || { echo "PROMOTION_EVAL_SET '$eval_set' is not an absolute path to a file" >&2; exit 2; }
  echo "EVAL_SET=$eval_set" >>"$conf"
fi
if [[ -n $eval_sha ]]; then
  [[ $eval_sha =~ ^[0-9a-f]{64}$ && -n $eval_set ]] || { echo "PROMOTION_EVAL_SHA256 must be 64 hex digits, with PROMOTION_EVAL_SET" >&2; exit 2; }
  echo "EVAL_SHA256=$eval_sha" >>"$conf"
fi
if [[ -n $margin ]]; then
  [[ $margin =~ ^0(\.[0-9]+)?$ ]] || { echo "PROMOTION_MIN_IMPROVEMENT must be a fraction in [0, 1), e.g. 0.005 (got '$margin')" >&2; exit 2; }
  echo "MIN_IMPROVEMENT=$margin" >>"$conf"
fi
install_file "$conf" "$repo/promotion.conf" 644

# The repo (objects, refs, logs) and the model root belong to the pushing user; hooks
# and config stay with the installer.
mkdir -p "$root/versions"
for p in "$repo" "$root" "$root/versions"; do
  if [[ $(stat -c %U:%G "$p") != "$owner:$group" ]]; then changed=true; fi
done
chown -R "$owner:$group" "$repo" "$root/versions"
chown "$owner:$group" "$root"
chown -R "$(id -un):$(id -gn)" "$repo/hooks" "$repo/promotion.conf"
if [[ $(stat -c %a "$root") != 755 || $(stat -c %a "$root/versions") != 755 ]]; then
  chmod 755 "$root" "$root/versions"
  changed=true
fi
echo "bare repo: $repo (model root $root, keep $keep)"
echo "changed=$changed"
