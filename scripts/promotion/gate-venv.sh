#!/usr/bin/env bash
# gate-venv.sh <requirements-gate.txt> [<python>]
#
# Makes (once) a virtualenv with the gate's pinned requirements, cached under
# ${RAYSWARM_CACHE:-/var/cache/rayswarm}/venvs/gate-<hash of requirements + python version
# and path>, and prints its python as the LAST stdout line. Use a system python
# (/usr/bin/python3, the default when present) so that the `git` user can run it: a
# python under /root (pyenv) is not readable by other users.
# Safe to run concurrently (flock); built in
# a temp folder and renamed into place, so a half-built venv is never used.
set -euo pipefail
umask 022
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: $0 <requirements-gate.txt> [<python>]" >&2
  exit 2
fi
req=$1 py=${2:-}
if [[ -z $py ]]; then
  if [[ -x /usr/bin/python3 ]]; then py=/usr/bin/python3; else py=python3; fi
fi
[[ -f $req ]] || { echo "no $req" >&2; exit 2; }
if ! "$py" -c 'import ensurepip, venv' 2>/dev/null; then
  echo "$py cannot make virtualenvs (Debian: apt-get install -y python3-venv)" >&2
  exit 1
fi
cache=${RAYSWARM_CACHE:-/var/cache/rayswarm}/venvs
pyver=$("$py" -c 'import os, sys; print("%d.%d.%d" % sys.version_info[:3], os.path.realpath(sys.executable))')
hash=$( { cat "$req"; echo "python $pyver"; } | sha256sum | cut -c1-16)
venv="$cache/gate-$hash"
mkdir -p "$cache"
exec 8>"$cache/.gate-$hash.lock"
flock -w 1200 8
if [[ ! -x $venv/bin/python ]]; then
  tmp=$(mktemp -d "$cache/.gate-$hash.XXXXXX")
  trap 'rm -rf -- "$tmp"' EXIT
  "$py" -m venv "$tmp" >&2
  "$tmp/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  # Only bin/python -m ... is used, which keeps working after the rename (pyvenv.cfg is
  # found beside it); entry-point scripts and activate would keep the temp path.
  chmod 755 "$tmp" # mktemp makes it 0700; the git user must run it
  mv -T "$tmp" "$venv"
  trap - EXIT
fi
echo "$venv/bin/python"
