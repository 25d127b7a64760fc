#!/usr/bin/env bash
# Usage: jupyter.sh <jupyterlab-version> <port>
#
# On the Ray head: install JupyterLab into the Ray venv and run it as the systemd unit
# rayswarm-jupyter.service bound to 127.0.0.1:<port> only — reach it with an SSH tunnel
# through the bastion (the stack output says how). The login token is generated on the host
# into /etc/rayswarm/jupyter-token (0600) and never printed. Idempotent.
# stdout: only changed=true|false.
set -euo pipefail
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
RAYSWARM_STEP=jupyter

[[ $# -eq 2 ]] || usage_die "jupyter.sh <jupyterlab-version> <port>"
version=$1 port=$2
require_root
require_ray

if [[ "$("$RAY_VENV/bin/python" -c 'import jupyterlab; print(jupyterlab.__version__)' 2>/dev/null || true)" != "$version" ]]; then
  log "installing jupyterlab==$version"
  retry 3 "$RAY_VENV/bin/pip" install --quiet "jupyterlab==$version" >&2
  mark_changed
fi

install -d -m 0700 /etc/rayswarm
if [[ ! -s /etc/rayswarm/jupyter-token ]]; then
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > /etc/rayswarm/jupyter-token)
  mark_changed
fi

notebooks=/var/lib/rayswarm/notebooks
install -d -m 0755 "$notebooks"
launcher=/usr/local/lib/rayswarm-jupyter
# shellcheck disable=SC2016 # the $(cat ...) is for the launcher to expand, not us
launcher_body=$(printf '#!/bin/sh\nexec %s/bin/jupyter lab --ip=127.0.0.1 --port=%s --no-browser --allow-root --notebook-dir=%s --IdentityProvider.token="$(cat /etc/rayswarm/jupyter-token)"\n' "$RAY_VENV" "$port" "$notebooks")
mkdir -p "$(dirname "$launcher")"
if printf '%s\n' "$launcher_body" | write_if_changed "$launcher" 0755; then mark_changed; fi
if has_systemd; then
  unit=$(printf '[Unit]\nDescription=rayswarm JupyterLab (127.0.0.1:%s, SSH tunnel only)\nAfter=network-online.target\n\n[Service]\nExecStart=%s\nRestart=always\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n' "$port" "$launcher")
  if printf '%s\n' "$unit" | write_if_changed /etc/systemd/system/rayswarm-jupyter.service 0644; then
    systemctl daemon-reload
    systemctl enable rayswarm-jupyter.service >&2
    systemctl restart rayswarm-jupyter.service
    mark_changed
  elif ! systemctl is-active --quiet rayswarm-jupyter.service; then
    systemctl start rayswarm-jupyter.service
    mark_changed
  fi
elif ! fallback_running jupyter; then
  fallback_start jupyter "$launcher"
  mark_changed
fi
wait_until 60 "JupyterLab answering on 127.0.0.1:$port" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
finish
