#!/usr/bin/env bash
# install-hooks.sh <bare-repo> <model-root> <keep-K> <gate-python> <tuning-src> [<owner>]
#
# Creates (if missing) the bare models repo and the model root, and installs the
# production hooks (pre-receive, post-receive, promotion-lib.sh) and their config file
# <bare-repo>/promotion.conf. <owner> (default: the current user) owns the repo and the
# model root: the hooks run as the pushing user. Hooks and config belong to root (or the
# current user) and are read-only for <owner>. Idempotent; last stdout line is
# changed=true|false. Called by setup-production.sh; tests call it directly.
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
