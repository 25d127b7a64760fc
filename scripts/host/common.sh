# shellcheck shell=bash
# Shared helpers for the rayswarm host scripts. Sourced, never run:
#   source "$(dirname "$0")/common.sh"
#
# Conventions every script follows:
#   - log lines go to stderr as `rayswarm[<hostname>] <step>: <msg>`;
#   - stdout is reserved: a script may print its result (e.g. JSON) and then, as the
#     LAST line, `changed=true|false`. Everything else a script runs writes to stderr
#     (this file redirects fd 1 to fd 2 and keeps the real stdout as fd 3);
#   - secrets arrive on stdin and never reach argv or a log line.

RAYSWARM_HOST="$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null || echo unknown)"
RAYSWARM_STEP="${RAYSWARM_STEP:-$(basename "$0" .sh)}"
RAYSWARM_CHANGED=false

# Keep the real stdout on fd 3 for `emit`; everything else goes to stderr.
exec 3>&1 1>&2

log() { printf 'rayswarm[%s] %s: %s\n' "$RAYSWARM_HOST" "$RAYSWARM_STEP" "$*" >&2; }
die() {
  printf 'rayswarm[%s] %s: ERROR: %s\n' "$RAYSWARM_HOST" "$RAYSWARM_STEP" "$*" >&2
  exit 1
}

# emit LINE... : print result lines on the real stdout.
emit() { printf '%s\n' "$@" >&3; }

mark_changed() { RAYSWARM_CHANGED=true; }

# finish: print the final `changed=` line (always the last line of stdout).
finish() { emit "changed=$RAYSWARM_CHANGED"; }

require_root() {
  [[ ${EUID:-$(id -u)} -eq 0 ]] || die "must run as root (run it with sudo)"
}

# usage_die USAGE: print the usage line and fail.
usage_die() { die "usage: $1"; }

# retry N CMD...: run CMD up to N times, backing off 2, 4, 8 … (max 30) seconds.
# Only the command name is logged, never its arguments.
retry() {
  local attempts="$1" delay=2 i
  shift
  for ((i = 1; ; i++)); do
    if "$@"; then
      return 0
    fi
    if ((i >= attempts)); then
      log "'$1' failed $attempts times, giving up"
      return 1
    fi
    log "'$1' failed (attempt $i/$attempts), retrying in ${delay}s"
    sleep "$delay"
    delay=$((delay * 2 > 30 ? 30 : delay * 2))
  done
}

# wait_until SECONDS WHAT CMD...: poll CMD every 2 s until it succeeds; fail after
# SECONDS naming WHAT.
wait_until() {
  local seconds="$1" what="$2" start
  shift 2
  start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS - start >= seconds)); then
      die "timed out after ${seconds}s waiting for $what"
    fi
    sleep 2
  done
}

# has_systemd: true when systemd is PID 1 (sd_booted()).
has_systemd() { [[ -d /run/systemd/system ]]; }

# wait_cloud_init: on cloud VMs, apt must not race cloud-init's own package runs. Waits
# (bounded, 10 min) only while cloud-init reports itself running: an installed but
# disabled or never-run cloud-init (containers, some on-prem machines) is skipped.
wait_cloud_init() {
  command -v cloud-init >/dev/null 2>&1 || return 0
  if timeout 30 cloud-init status 2>/dev/null | grep -q 'status: running'; then
    log "waiting for cloud-init to finish"
    timeout 600 cloud-init status --wait >/dev/null 2>&1 || log "cloud-init status --wait did not report success; continuing"
  fi
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

_apt_get() {
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 -q "$@"
}

# apt_install PKG...: install the packages that are missing (waits up to 5 min for
# dpkg locks held by unattended-upgrades/cloud-init; retries network failures).
# Returns 0 and sets RAYSWARM_CHANGED when something was installed.
apt_install() {
  local missing=() p
  for p in "$@"; do
    pkg_installed "$p" || missing+=("$p")
  done
  ((${#missing[@]} > 0)) || return 0
  command -v apt-get >/dev/null 2>&1 || die "packages missing (${missing[*]}) and apt-get is not available"
  wait_cloud_init
  log "installing ${missing[*]}"
  retry 3 _apt_get update >/dev/null || die "apt-get update failed"
  retry 3 _apt_get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    die "apt-get install ${missing[*]} failed"
  mark_changed
}

# ensure_cmd CMD PKG: install PKG when CMD is missing.
ensure_cmd() { command -v "$1" >/dev/null 2>&1 || apt_install "$2"; }

# --- Docker helpers --------------------------------------------------------------

docker_ok() { docker info >/dev/null 2>&1; }

require_docker() { docker_ok || die "Docker engine not reachable (run docker-install.sh first)"; }

# swarm_state: inactive | pending | active | error | locked
swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

swarm_active() { [[ "$(swarm_state)" == "active" ]]; }

is_manager() { [[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" == "true" ]]; }

require_manager() {
  require_docker
  [[ "$(swarm_state)" == "active" ]] || die "this host is not in a swarm (state: $(swarm_state))"
  is_manager || die "this host is a swarm worker; run this on a manager"
}

# node_ids_by_hostname NAME: IDs of swarm nodes whose hostname - or address, so a
# caller that only knows a host's private address works too - is NAME (manager only).
node_ids_by_hostname() {
  local ids
  ids="$(docker node ls -q)" || return 1
  [[ -n "$ids" ]] || return 0
  # shellcheck disable=SC2086 # one argument per node ID
  docker node inspect --format '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}}' $ids |
    awk -v h="$1" '$2 == h || $3 == h { print $1 }'
}

# --- systemd unit / fallback service helpers -----------------------------------
# Without systemd (plain containers), a "unit" is emulated: the command runs under
# setsid/nohup, its pid in /run/rayswarm/<name>.pid, its definition in
# /etc/rayswarm/units/<name>.service (compared like a unit file), log in
# /var/log/rayswarm/<name>.log.


fallback_running() {
  local pidfile="/run/rayswarm/$1.pid"
  [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# fallback_start NAME CMD...: start CMD detached unless already running.
fallback_start() {
  local name="$1"
  shift
  fallback_running "$name" && return 0
  mkdir -p /run/rayswarm /var/log/rayswarm
  setsid nohup "$@" >>"/var/log/rayswarm/$name.log" 2>&1 </dev/null &
  echo $! >"/run/rayswarm/$name.pid"
}

fallback_stop() {
  local name="$1" pid i
  fallback_running "$name" || { rm -f "/run/rayswarm/$name.pid"; return 0; }
  pid="$(cat "/run/rayswarm/$name.pid")"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "/run/rayswarm/$name.pid"
}

# write_if_changed PATH MODE: write stdin to PATH when its content differs; returns 0
# when it wrote, 1 when the file was already identical.
write_if_changed() {
  local path="$1" mode="$2" tmp
  tmp="$(mktemp "${path}.XXXXXX")"
  cat >"$tmp"
  if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    return 1
  fi
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
  return 0
}

# --- Ray helpers -------------------------------------------------------------------

RAY_VENV=/opt/rayswarm/venv
# ray_port_options OPTION PORT...: dies unless the arguments are `ray start` port options, each
# --<name>-port followed by a port (ray-head.sh and ray-worker.sh get them from RayCluster:
# components/core/ports.ts rayStartPortArgs, the one table the security rules use too).
ray_port_options() {
  (($# > 0 && $# % 2 == 0)) || die "expected ray start port options (--<name>-port <port> ...), got: $*"
  while (($#)); do
    [[ "$1" =~ ^--[a-z][a-z-]*-port$ ]] || die "'$1' is not a ray start port option (--<name>-port)"
    valid_port "$2" || die "$1 '$2' is not a port"
    shift 2
  done
}
RAY_UNIT=rayswarm-ray

require_ray() {
  [[ -x "$RAY_VENV/bin/ray" ]] || die "Ray is not installed in $RAY_VENV (run ray-install.sh first)"
}

# ray_status_ok HOST:PORT: `ray status` answers for that GCS.
ray_status_ok() { timeout 60 "$RAY_VENV/bin/ray" status --address "$1" >/dev/null 2>&1; }

# ray_unit_apply ROLE RAY-START-ARGS...: make rayswarm-ray run
# `ray start --block RAY-START-ARGS...` (args must not contain spaces). With systemd:
# /etc/systemd/system/rayswarm-ray.service, enabled, (re)started when its content
# changed or it is not active. Without systemd: a detached process (see fallback_*).
ray_unit_apply() {
  local role="$1" exec_line unit venv_stamp restart=false
  shift
  exec_line="$RAY_VENV/bin/ray start --block $*"
  # The venv's install stamp is part of the unit: a reinstall (ray-install.sh with a
  # new version/requirements) changes the unit, so the next ray-head/ray-worker run
  # restarts Ray on the new code.
  venv_stamp="$(sha256sum "$RAY_VENV/.rayswarm-stamp" 2>/dev/null | cut -c1-16 || true)"
  if has_systemd; then
    unit="[Unit]
Description=rayswarm Ray $role (managed by scripts/host/ray-$role.sh)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
Environment=HOME=/root
Environment=RAY_USAGE_STATS_ENABLED=0
Environment=PYTHONUNBUFFERED=1
Environment=RAYSWARM_VENV_STAMP=${venv_stamp:-none}
ExecStart=$exec_line
Restart=always
RestartSec=5
# mixed: SIGTERM only to \`ray start --block\`, which drains this node through the GCS
# and stops its processes; leftovers get SIGKILL. (control-group SIGTERMed the GCS at
# the same time, and the drain then hung for its 30 s timeout.)
KillMode=mixed
TimeoutStopSec=60
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target"
    if write_if_changed "/etc/systemd/system/$RAY_UNIT.service" 0644 <<<"$unit"; then
      log "wrote $RAY_UNIT.service ($role)"
      systemctl daemon-reload
      restart=true
      mark_changed
    fi
    if ! systemctl is-enabled --quiet "$RAY_UNIT.service" 2>/dev/null; then
      systemctl enable "$RAY_UNIT.service" >/dev/null 2>&1 || die "systemctl enable $RAY_UNIT failed"
      mark_changed
    fi
    if [[ $restart == true ]] && systemctl is-active --quiet "$RAY_UNIT.service"; then
      log "restarting $RAY_UNIT.service"
      systemctl restart "$RAY_UNIT.service" || die "systemctl restart $RAY_UNIT failed"
    elif ! systemctl is-active --quiet "$RAY_UNIT.service"; then
      log "starting $RAY_UNIT.service"
      systemctl start "$RAY_UNIT.service" || die "systemctl start $RAY_UNIT failed"
      mark_changed
    fi
  else
    mkdir -p /etc/rayswarm/units
    if write_if_changed "/etc/rayswarm/units/$RAY_UNIT.service" 0644 <<<"$exec_line # venv ${venv_stamp:-none}"; then
      restart=true
      mark_changed
    fi
    if [[ $restart == true ]] || ! fallback_running "$RAY_UNIT"; then
      log "no systemd: (re)starting Ray $role detached (log /var/log/rayswarm/$RAY_UNIT.log)"
      fallback_stop "$RAY_UNIT"
      # shellcheck disable=SC2086 # exec_line is a validated word list
      RAY_USAGE_STATS_ENABLED=0 fallback_start "$RAY_UNIT" $exec_line
      mark_changed
    fi
  fi
}

# ray_unit_active: the Ray service (or its fallback process) is running.
ray_unit_active() {
  if has_systemd; then
    systemctl is-active --quiet "$RAY_UNIT.service"
  else
    fallback_running "$RAY_UNIT"
  fi
}

# ray_unit_logs: recent output of the Ray service, for failure messages.
ray_unit_logs() {
  if has_systemd; then
    journalctl -u "$RAY_UNIT.service" -n 30 --no-pager >&2 2>/dev/null || true
  else
    tail -n 30 "/var/log/rayswarm/$RAY_UNIT.log" >&2 2>/dev/null || true
  fi
}

# valid_addr ADDR / valid_port PORT: argument checks (no spaces, sane ranges).
valid_addr() { [[ "$1" =~ ^[A-Za-z0-9._-]+$ ]]; }
valid_port() { [[ "$1" =~ ^[0-9]+$ ]] && (($1 > 0 && $1 < 65536)); }
