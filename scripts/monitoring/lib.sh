# shellcheck shell=bash
# Helpers of the monitoring scripts, on top of scripts/host/common.sh (both are installed side
# by side in /opt/rayswarm/monitoring/scripts by components/monitoring). Sourced, never run:
#   source "$(dirname "$0")/lib.sh"
# On hosts common.sh sits beside this file; in the repository it is in scripts/host.
_mon_dir="$(dirname "${BASH_SOURCE[0]}")"
if [[ -f "$_mon_dir/common.sh" ]]; then
  # shellcheck source=../host/common.sh
  source "$_mon_dir/common.sh"
else
  # shellcheck source=../host/common.sh
  source "$_mon_dir/../host/common.sh"
fi

# upstream_of DEBIAN-VERSION: 1:2.42.0+ds-5+deb12u1 -> 2.42.0
upstream_of() {
  local v="${1#*:}"
  v="${v%%-*}"
  printf '%s\n' "${v%%[+~]*}"
}

# installed_upstream PKG: the upstream version of the installed package, or nothing.
installed_upstream() {
  pkg_installed "$1" || return 0
  upstream_of "$(dpkg-query -W -f='${Version}' "$1")"
}

# candidate_of PKG VERSION: the newest Debian version of PKG whose upstream part is VERSION.
candidate_of() {
  local v
  while read -r v; do
    [[ "$(upstream_of "$v")" == "$2" ]] && { printf '%s\n' "$v"; return 0; }
  done < <(apt-cache madison "$1" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
  return 1
}

# with_services_held CMD...: run CMD (an apt install) with a policy-rc.d that stops the
# packages' maintainer scripts from starting their services with the Debian defaults
# (Prometheus, Alertmanager and the exporters listen on every address by default). An
# existing policy-rc.d is left alone.
with_services_held() {
  local own=false rc=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\n# rayswarm monitoring: installing packages, services are started later\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own=true
  fi
  "$@" || rc=$?
  if [[ $own == true ]]; then rm -f /usr/sbin/policy-rc.d; fi
  return "$rc"
}

# apt_install_pinned PKG VERSION...: install each PKG at the Debian version whose upstream
# part is VERSION (pairs), unless that version is installed. Sets changed.
apt_install_pinned() {
  local want=() pkg ver cand
  while (($# >= 2)); do
    pkg=$1 ver=$2
    shift 2
    [[ "$(installed_upstream "$pkg")" == "$ver" ]] && continue
    want+=("$pkg" "$ver")
  done
  ((${#want[@]} > 0)) || return 0
  wait_cloud_init
  retry 3 _apt_get update >/dev/null || die "apt-get update failed"
  local specs=() i
  for ((i = 0; i < ${#want[@]}; i += 2)); do
    cand=$(candidate_of "${want[i]}" "${want[i + 1]}") ||
      die "${want[i]} ${want[i + 1]} is not available from apt (apt-cache madison ${want[i]}: $(apt-cache madison "${want[i]}" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); printf "%s ", $2 }'))"
    specs+=("${want[i]}=$cand")
  done
  log "installing ${specs[*]}"
  with_services_held retry 3 _apt_get install -y --no-install-recommends --allow-downgrades \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${specs[@]}" >/dev/null ||
    die "apt-get install ${specs[*]} failed"
  mark_changed
}

# service_apply NAME CHANGED: a Debian-packaged service (NAME.service, reading
# /etc/default/NAME) enabled and running; restarted when CHANGED is true. Without systemd:
# run /usr/bin/NAME $ARGS as user prometheus, detached (common.sh fallback_*), restarted when
# /etc/default/NAME or CHANGED says so.
service_apply() {
  local name=$1 changed=$2 args=""
  if has_systemd; then
    if ! systemctl is-enabled --quiet "$name.service" 2>/dev/null; then
      systemctl enable "$name.service" >/dev/null 2>&1 || die "systemctl enable $name failed"
      mark_changed
    fi
    if [[ $changed == true ]] && systemctl is-active --quiet "$name.service"; then
      log "restarting $name"
      systemctl restart "$name.service" || die "systemctl restart $name failed"
      mark_changed
    elif ! systemctl is-active --quiet "$name.service"; then
      log "starting $name"
      systemctl start "$name.service" || { journalctl -u "$name.service" -n 20 --no-pager >&2 || true; die "$name failed to start"; }
      mark_changed
    fi
  else
    args=$(sed -n 's/^ARGS="\(.*\)"$/\1/p' "/etc/default/$name")
    mkdir -p /etc/rayswarm/units
    if write_if_changed "/etc/rayswarm/units/$name.service" 0644 <<<"/usr/bin/$name $args"; then changed=true; fi
    if [[ $changed == true ]] || ! fallback_running "$name"; then
      log "no systemd: (re)starting $name detached (log /var/log/rayswarm/$name.log)"
      fallback_stop "$name"
      # shellcheck disable=SC2086 # ARGS is a word list, as systemd's $ARGS
      fallback_start "$name" runuser -u prometheus -- "/usr/bin/$name" $args 3>&-
      mark_changed
    fi
  fi
}

# http_ok URL: the URL answers 2xx.
http_ok() { curl -fsS -o /dev/null --max-time 5 "$1"; }
