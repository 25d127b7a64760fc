#!/usr/bin/env bash
# Usage: prometheus.sh <listen-addr> <prometheus-version> <alertmanager-version> <retention> <config-dir>
#        (the Alertmanager webhook URL on STDIN; empty stdin = no webhook receiver)
#
# On the orchestration machine: Debian's prometheus and prometheus-alertmanager at the given
# upstream versions (installed with their services held, so they never listen on the Debian
# defaults), the generated files from <config-dir> (prometheus.yml, alertmanager.yml,
# rules/*.yml, consoles/*) copied to /etc/prometheus after `promtool check config` and
# `amtool check-config` accept them. The webhook URL (stdin) replaces __RAYSWARM_WEBHOOK_URL__
# in alertmanager.yml, which is then 0640 root:prometheus (Alertmanager 0.25 has no url_file);
# it is never in argv, a log line or a staged file. Both listen on <listen-addr> only:
# Prometheus on :9090 (retention <retention>, console templates), Alertmanager on :9093
# without its cluster port. Restarted when a file or an argument changed; waits for
# /-/ready on both. stdout: `url=http://<addr>:9090`, then changed=true|false.
# Tunables (env, for direct use such as .ci/monitoring.sh): PROMETHEUS_PORT (9090),
# ALERTMANAGER_PORT (9093).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
RAYSWARM_STEP=prometheus

[[ $# -eq 5 ]] || usage_die "prometheus.sh <listen-addr> <prometheus-version> <alertmanager-version> <retention> <config-dir>"
addr=$1 pversion=$2 aversion=$3 retention=$4 src=$5
valid_addr "$addr" || die "listen-addr '$addr' is not an address"
for v in "$pversion" "$aversion"; do
  [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version '$v' is not a version such as 2.42.0"
done
[[ $retention =~ ^[0-9]+(ms|s|m|h|d|w|y)$ ]] || die "retention '$retention' is not a duration such as 15d"
for f in prometheus.yml alertmanager.yml; do
  [[ -f "$src/$f" ]] || die "$src/$f is missing (the config step writes it)"
done
pport=${PROMETHEUS_PORT:-9090} aport=${ALERTMANAGER_PORT:-9093}
{ valid_port "$pport" && valid_port "$aport"; } || die "PROMETHEUS_PORT/ALERTMANAGER_PORT must be ports"
require_root
# The webhook URL: read before anything else can touch stdin.
webhook=$(cat)

ensure_cmd curl curl
apt_install_pinned prometheus "$pversion" prometheus-alertmanager "$aversion"

etc=/etc/prometheus
pchanged=false achanged=false
install -d -m 0755 "$etc" "$etc/rules" "$etc/consoles" "$etc/console_libraries" "$etc/targets"

if [[ -n "$webhook" && ! $webhook =~ ^https?://[^[:space:]\"\\]+$ ]]; then
  die "the webhook URL on stdin is not an http(s) URL without spaces, quotes or backslashes"
fi
if [[ -z "$webhook" ]] && grep -q __RAYSWARM_WEBHOOK_URL__ "$src/alertmanager.yml"; then
  die "alertmanager.yml has a webhook receiver but no URL came on stdin"
fi

# Validate the staged files as a whole (rule files are resolved from a scratch copy of /etc
# layout), then install them.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/rules"
cp "$src"/rules/*.yml "$scratch/rules/" 2>/dev/null || true
sed "s#$etc/rules/#$scratch/rules/#g" "$src/prometheus.yml" >"$scratch/prometheus.yml"
promtool check config "$scratch/prometheus.yml" >&2 || die "promtool check config refused the generated prometheus.yml"
am=$(<"$src/alertmanager.yml")
# Quoted replacement: `&` in the URL stays literal (bash 5.2 patsub_replacement).
am=${am//__RAYSWARM_WEBHOOK_URL__/"$webhook"}
unset webhook
(umask 077 && printf '%s\n' "$am" >"$scratch/alertmanager.yml")
amtool check-config "$scratch/alertmanager.yml" >&2 || die "amtool check-config refused the generated alertmanager.yml"

if write_if_changed "$etc/prometheus.yml" 0644 <"$src/prometheus.yml"; then pchanged=true; fi
if write_if_changed "$etc/alertmanager.yml" 0640 <"$scratch/alertmanager.yml"; then achanged=true; fi
unset am
chown root:prometheus "$etc/alertmanager.yml"
chmod 0640 "$etc/alertmanager.yml"
# sync_dir SRC DST GLOB: DST holds exactly SRC's GLOB files.
sync_dir() {
  local from=$1 to=$2 glob=$3 f base
  for f in "$from"/$glob; do
    [[ -e "$f" ]] || continue
    # shellcheck disable=SC2094 # reads $f, writes a file in another folder
    if write_if_changed "$to/$(basename "$f")" 0644 <"$f"; then pchanged=true; fi
  done
  for f in "$to"/$glob; do
    [[ -e "$f" ]] || continue
    base=$(basename "$f")
    if [[ ! -e "$from/$base" ]]; then
      rm -f "$f"
      pchanged=true
    fi
  done
}
sync_dir "$src/rules" "$etc/rules" "*.yml"
sync_dir "$src/consoles" "$etc/consoles" "*.html"

pargs="--config.file=$etc/prometheus.yml --web.listen-address=$addr:$pport --storage.tsdb.retention.time=$retention"
pargs+=" --web.console.templates=$etc/consoles --web.console.libraries=$etc/console_libraries"
pargs+=" --web.external-url=http://localhost:$pport/ --web.route-prefix=/"
aargs="--config.file=$etc/alertmanager.yml --web.listen-address=$addr:$aport --cluster.listen-address="
aargs+=" --web.external-url=http://localhost:$aport/ --web.route-prefix=/"
if write_if_changed /etc/default/prometheus 0644 <<<"# managed by rayswarm (scripts/monitoring/prometheus.sh)
ARGS=\"$pargs\""; then pchanged=true; fi
if write_if_changed /etc/default/prometheus-alertmanager 0644 <<<"# managed by rayswarm (scripts/monitoring/prometheus.sh)
ARGS=\"$aargs\""; then achanged=true; fi
[[ $pchanged == false && $achanged == false ]] || mark_changed

service_apply prometheus-alertmanager "$achanged"
service_apply prometheus "$pchanged"
wait_until 120 "Alertmanager on $addr:$aport" http_ok "http://$addr:$aport/-/ready"
wait_until 120 "Prometheus on $addr:$pport" http_ok "http://$addr:$pport/-/ready"
log "Prometheus on $addr:$pport, Alertmanager on $addr:$aport"
emit "url=http://$addr:$pport"
finish
