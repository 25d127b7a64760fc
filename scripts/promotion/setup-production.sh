#!/usr/bin/env bash
# setup-production.sh <model-root> <keep-K> <gate-python> <tuning-src>   (stdin: deploy PUBLIC key)
#
# Run as root on every production machine. Idempotent; last stdout line: changed=true|false.
#  - user `git` (PROMOTION_USER), home /home/git (PROMOTION_HOME), login shell git-shell
#    (added to /etc/shells); password field '*' (no password, but not "locked" for sshd);
#  - ~git/.ssh/authorized_keys = exactly the key from stdin, prefixed with
#    restrict,no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc:
#    with git-shell as the shell, the key can run git-receive-pack/git-upload-pack and nothing else;
#  - the bare repo ~git/models.git with the promotion hooks (install-hooks.sh);
#  - <model-root> (e.g. /srv/rayswarm/models) owned by git, world-readable.
set -euo pipefail
umask 022
if [[ $# -ne 4 ]]; then
  echo "usage: $0 <model-root> <keep-K> <gate-python> <tuning-src>   (deploy public key on stdin)" >&2
  exit 2
fi
root=$1 keep=$2 gate_python=$3 tuning_src=$4
user=${PROMOTION_USER:-git}
home=${PROMOTION_HOME:-/home/$user}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
changed=false
[[ $(id -u) -eq 0 ]] || { echo "run as root" >&2; exit 2; }

key=$(tr -d '\r' | grep -v '^[[:space:]]*$' || true)
if [[ $(printf '%s\n' "$key" | grep -c .) -ne 1 || ! $key =~ ^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521))\ [A-Za-z0-9+/=]+(\ .*)?$ ]]; then
  echo "stdin must hold exactly one OpenSSH public key (ssh-ed25519/ssh-rsa/ecdsa-...)" >&2
  exit 2
fi

shell=$(command -v git-shell || true)
[[ -n $shell ]] || shell=/usr/bin/git-shell
[[ -x $shell ]] || { echo "git-shell not found: install git" >&2; exit 2; }
if ! grep -qxF "$shell" /etc/shells; then
  echo "$shell" >>/etc/shells
  changed=true
fi

if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --create-home --home-dir "$home" --shell "$shell" --user-group "$user"
  changed=true
fi
if [[ $(getent passwd "$user" | cut -d: -f7) != "$shell" ]]; then
  usermod --shell "$shell" "$user"
  changed=true
fi
home=$(getent passwd "$user" | cut -d: -f6)
# sshd (without PAM) refuses keys for a locked account ('!' password); '*' = no password.
if [[ $(getent shadow "$user" | cut -d: -f2) != '*' ]]; then
  usermod -p '*' "$user"
  changed=true
fi
group=$(id -gn "$user")
mkdir -p "$home"
chown "$user:$group" "$home"
chmod go-w "$home"

install -d -m 700 -o "$user" -g "$group" "$home/.ssh"
want="restrict,no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc $key"
ak="$home/.ssh/authorized_keys"
if [[ ! -f $ak || $(cat "$ak") != "$want" ]]; then
  tmp=$(mktemp "$home/.ssh/.authorized_keys.XXXXXX")
  printf '%s\n' "$want" >"$tmp"
  chmod 600 "$tmp"
  chown "$user:$group" "$tmp"
  mv -f "$tmp" "$ak"
  changed=true
fi
if [[ $(stat -c %a:%U "$ak") != "600:$user" ]]; then
  chmod 600 "$ak"
  chown "$user:$group" "$ak"
  changed=true
fi
# git-shell without ~/git-shell-commands refuses interactive logins; keep it that way.
if [[ -e $home/git-shell-commands ]]; then
  rm -rf -- "$home/git-shell-commands"
  changed=true
fi

out=$(bash "$here/install-hooks.sh" "$home/models.git" "$root" "$keep" "$gate_python" "$tuning_src" "$user")
printf '%s\n' "$out" | sed '$d'
[[ $(printf '%s\n' "$out" | tail -n 1) == changed=true ]] && changed=true

# The git user must be able to run the gate (permissions on the venv and the source).
if ! runuser -u "$user" -- env PYTHONPATH="$tuning_src" "$gate_python" -c 'import rayswarm_tuning.gate' 2>/dev/null; then
  echo "user $user cannot import rayswarm_tuning.gate with $gate_python and PYTHONPATH=$tuning_src" >&2
  exit 1
fi
echo "push URL: $user@<this host>:models.git ($home/models.git)"
echo "changed=$changed"
