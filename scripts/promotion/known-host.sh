#!/usr/bin/env bash
# known-host.sh add|remove <repo-dir> <host>     (add: stdin: the host's public key, `ssh-ed25519 AAAA…`)
#
# Run on the development machine after setup-development.sh, one production machine at a time
# (like target.sh): the known_hosts file the repo's pushes check,
# <repo-dir>/.git/promotion/known_hosts, then holds exactly that key for <host> (add) or
# nothing for it (remove); the other machines' lines stay as they are. Entries ssh wrote
# itself (accept-new, hashed or not) for <host> are replaced too. With setup-development.sh's
# PROMOTION_STRICT_HOST_KEYS=yes a push to a machine that has no line here is refused.
# <host> is how the push URL names the machine (git@<host>: its address, or [address]:port).
# Host keys are public: nothing here is secret. Idempotent; last stdout line: changed=true|false.
set -euo pipefail
umask 077
die() { echo "known-host: $*" >&2; exit 1; }
[[ $# -eq 3 && ($1 == add || $1 == remove) ]] || { echo "usage: $0 add|remove <repo-dir> <host>   (add: host key on stdin)" >&2; exit 2; }
action=$1 repo=$2 host=$3
[[ $host =~ ^(\[[A-Za-z0-9.:-]+\]:[0-9]+|[A-Za-z0-9.:-]+)$ ]] || die "host '$host' must be an address or hostname, or [address]:port"
dir=$repo/.git/promotion
file=$dir/known_hosts

if [[ $action == remove && ! -f $file ]]; then
  echo "changed=false"
  exit 0
fi
[[ -d $dir ]] || die "$repo has no .git/promotion (run setup-development.sh first)"

line=
if [[ $action == add ]]; then
  read -r type key _ || true
  [[ ${type:-} =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$ && ${key:-} =~ ^[A-Za-z0-9+/]+=*$ ]] ||
    die "stdin must hold the public host key of $host (ssh-ed25519 AAAA…)"
  line="$host $type $key"
fi

# The steps for several machines run at once on this machine: one writer at a time.
exec 9>"$dir/known_hosts.lock"
flock -w 60 9 || die "another known-host.sh holds $dir/known_hosts.lock for 60 s"
touch "$file"
chmod 600 "$file"
# What the file says about <host> now (ssh-keygen -F also finds hashed entries).
have=$(ssh-keygen -F "$host" -f "$file" 2>/dev/null | grep -v '^#' || true)
if [[ $have == "$line" ]]; then
  echo "changed=false"
  exit 0
fi
tmp=$(mktemp "$dir/.known_hosts.XXXXXX")
trap 'rm -f -- "$tmp" "$tmp.old"' EXIT
cp "$file" "$tmp"
if [[ -n $have ]]; then
  ssh-keygen -R "$host" -f "$tmp" >/dev/null 2>&1 || die "ssh-keygen -R $host failed on a copy of $file"
fi
[[ -z $line ]] || printf '%s\n' "$line" >>"$tmp"
mv -f "$tmp" "$file"
chmod 600 "$file"
if [[ -n $line ]]; then
  echo "promotion: pushes to $host check its host key ($type)" >&2
else
  echo "promotion: $host's host key removed from $file" >&2
fi
echo "changed=true"
