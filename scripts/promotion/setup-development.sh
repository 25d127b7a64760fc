#!/usr/bin/env bash
# setup-development.sh <repo-dir> [<prod-user@host[:port]>...]   (stdin: deploy PRIVATE key)
#
# Run on the development machine (Ray head) as the user who promotes models. Idempotent;
# last stdout line: changed=true|false.
#  - <repo-dir>: the models working repo (branch main), created if missing;
#  - the private key from stdin is stored as <repo-dir>/.git/promotion/deploy_key (0600,
#    folder 0700) and used for this repo only, through core.sshCommand
#    (IdentitiesOnly, BatchMode, its own known_hosts file <repo-dir>/.git/promotion/known_hosts);
#    host keys: StrictHostKeyChecking=accept-new (trust on first use), or =yes with the
#    entries of the file named by PROMOTION_KNOWN_HOSTS (copied in) when that variable is set,
#    or =yes with PROMOTION_STRICT_HOST_KEYS=yes, where known-host.sh puts each production
#    machine's key in that known_hosts file (the program does, one step per machine);
#  - remote `production`: one pushurl per machine, ssh://<user@host[:port]>/~/models.git
#    (PROMOTION_REMOTE_PATH overrides models.git; a target starting with / or file:// is
#    taken as a URL as is, for tests). With no targets the pushurls are left as they are:
#    the program adds one machine at a time with target.sh;
#  - the post-commit hook that pushes every commit to all of them.
set -euo pipefail
umask 077
if [[ $# -lt 1 ]]; then
  echo "usage: $0 <repo-dir> [<prod-user@host[:port]>...]   (deploy private key on stdin)" >&2
  exit 2
fi
repo=$1
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source=scripts/promotion/lib/dev.sh
source "$here/lib/dev.sh"
remote_path=${PROMOTION_REMOTE_PATH:-models.git}
changed=false

key=$(cat)
if [[ $key != *"-----BEGIN "*"PRIVATE KEY-----"* ]]; then
  echo "stdin must hold the deploy PRIVATE key (OpenSSH/PEM format)" >&2
  exit 2
fi

if [[ ! -d $repo/.git ]]; then
  mkdir -p "$repo"
  git init --quiet --initial-branch=main "$repo"
  changed=true
fi
repo=$(cd "$repo" && pwd -P)
gd="$repo/.git"
install -d -m 700 "$gd/promotion"
if [[ ! -f $gd/promotion/deploy_key || $(cat "$gd/promotion/deploy_key") != "$key" ]]; then
  tmp=$(mktemp "$gd/promotion/.key.XXXXXX")
  printf '%s\n' "$key" >"$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$gd/promotion/deploy_key"
  changed=true
fi
chmod 600 "$gd/promotion/deploy_key"
touch "$gd/promotion/known_hosts"
strict=accept-new
case ${PROMOTION_STRICT_HOST_KEYS:-no} in
  yes) strict=yes ;; # the entries are known-host.sh's: left as they are
  no) ;;
  *) echo "PROMOTION_STRICT_HOST_KEYS must be yes or no (got '$PROMOTION_STRICT_HOST_KEYS')" >&2; exit 2 ;;
esac
if [[ -n ${PROMOTION_KNOWN_HOSTS:-} ]]; then
  if ! cmp -s "$PROMOTION_KNOWN_HOSTS" "$gd/promotion/known_hosts"; then
    cp "$PROMOTION_KNOWN_HOSTS" "$gd/promotion/known_hosts"
    changed=true
  fi
  strict=yes
fi
chmod 600 "$gd/promotion/known_hosts"

cfg() {
  if [[ $(git -C "$repo" config --get "$1" || true) != "$2" ]]; then
    git -C "$repo" config "$1" "$2"
    changed=true
  fi
}
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
cfg core.sshCommand "ssh -i $(q "$gd/promotion/deploy_key") -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=20 -o StrictHostKeyChecking=$strict -o UserKnownHostsFile=$(q "$gd/promotion/known_hosts")"
cfg user.name "${PROMOTION_GIT_NAME:-rayswarm promotion}"
cfg user.email "${PROMOTION_GIT_EMAIL:-promotion@rayswarm.invalid}"

urls=()
for target in "$@"; do
  urls+=("$(target_url "$target" "$remote_path")") || exit 2
done
if ((${#urls[@]} == 0)); then
  :
elif ! git -C "$repo" remote get-url production >/dev/null 2>&1; then
  git -C "$repo" remote add production "${urls[0]}"
  changed=true
elif [[ $(git -C "$repo" remote get-url production) != "${urls[0]}" ]]; then
  git -C "$repo" remote set-url production "${urls[0]}"
  changed=true
fi
mapfile -t have < <(git -C "$repo" config --get-all remote.production.pushurl || true)
if ((${#urls[@]} > 0)) && [[ "${have[*]:-}" != "${urls[*]}" ]]; then
  git -C "$repo" config --unset-all remote.production.pushurl || true
  for u in "${urls[@]}"; do git -C "$repo" config --add remote.production.pushurl "$u"; done
  changed=true
fi

umask 022
mkdir -p "$gd/hooks"
if ! cmp -s "$here/hooks/post-commit" "$gd/hooks/post-commit"; then
  install -m 755 "$here/hooks/post-commit" "$gd/hooks/post-commit"
  changed=true
fi
echo "models repo: $repo -> ${urls[*]:-(targets unchanged)}"
echo "changed=$changed"
