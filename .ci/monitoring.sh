#!/usr/bin/env bash
# CI for the monitoring (components/monitoring, scripts/monitoring), with the real Debian tools:
#  1. apt-installs prometheus, prometheus-alertmanager and prometheus-node-exporter (their
#     services held by a policy-rc.d: nothing starts on the packages' default ports);
#  2. renders the orchestration machine's files from the TypeScript generator (ts-node) for a
#     loopback topology, and checks them: `promtool check config` / `check rules`,
#     `amtool check-config`, the relay's config, `promtool test rules` of the rules tests, the
#     model textfile (`promtool check metrics`), shellcheck of scripts/monitoring;
#  3. runs it briefly on loopback ports 19090 (Prometheus), 19093 (Alertmanager), 19100 (node
#     exporters on 127.0.0.1/.3/.4, the last two with a live-model textfile), 19091 (a stand-in
#     for the in-swarm relay serving synthetic api/worker/RabbitMQ/Redis series): checks the
#     targets' health, a federated series, an alert reaching Alertmanager, the console page;
#  4. screenshots the console page in headless Chromium (OUT_DIR/console.png).
# Run from the repository root as root on Debian bookworm. OUT_DIR (default
# /tmp/rayswarm-monitoring-ci) keeps the rendered files, logs and the screenshot.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT_DIR=${OUT_DIR:-/tmp/rayswarm-monitoring-ci}
start=$SECONDS
log() { printf 'monitoring-ci: %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# --- 1. packages -------------------------------------------------------------------------
need=()
for p in prometheus prometheus-alertmanager prometheus-node-exporter curl python3; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  own_policy=false
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
    own_policy=true
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [[ $own_policy == false ]] || rm -f /usr/sbin/policy-rc.d
fi
chromium=${CHROMIUM_PATH:-$(command -v chromium || true)}
[[ -x "$ROOT/node_modules/.bin/ts-node" ]] || npm ci --no-audit --no-fund

# --- 2. render and check ---------------------------------------------------------------------
rm -rf "$OUT_DIR"
mkdir -p "$OUT_DIR"
gen=$OUT_DIR/generated
cat >"$OUT_DIR/topology.json" <<'EOF'
{
  "stack": "ci",
  "machines": [
    { "name": "ci-orchestration", "roles": ["orchestration"], "address": "127.0.0.1" },
    { "name": "ci-ray-head", "roles": ["ray-head"], "address": "127.0.0.2" },
    { "name": "ci-swarm-manager-0", "roles": ["swarm-manager"], "address": "127.0.0.3" },
    { "name": "ci-swarm-worker-0", "roles": ["swarm-worker"], "address": "127.0.0.4" }
  ],
  "listenAddress": "127.0.0.1",
  "relayTarget": "127.0.0.1:19091",
  "ports": { "prometheus": 19090, "alertmanager": 19093, "nodeExporter": 19100, "ray": 18090 },
  "webhook": true,
  "scrapeInterval": "2s"
}
EOF
"$ROOT/node_modules/.bin/ts-node" --transpile-only components/monitoring/cli.ts "$gen" "$OUT_DIR/topology.json" >/dev/null
# The machine's layout (/etc/prometheus/rules, /etc/prometheus/targets) becomes the temp folder's.
sed -E "s#/etc/prometheus/(rules|targets)/#$gen/\1/#g" "$gen/prometheus.yml" >"$OUT_DIR/prometheus.yml"
grep -q "$gen/targets/node/\*.json" "$OUT_DIR/prometheus.yml" || die "prometheus.yml does not read the node target files"
sed 's#__RAYSWARM_WEBHOOK_URL__#http://127.0.0.1:19091/webhook#' "$gen/alertmanager.yml" >"$OUT_DIR/alertmanager.yml"

log "promtool check config / rules, amtool check-config"
promtool check config "$OUT_DIR/prometheus.yml" >&2
promtool check config "$gen/relay.yml" >&2
promtool check rules "$gen"/rules/*.yml >&2
amtool check-config "$OUT_DIR/alertmanager.yml" >&2
log "promtool test rules"
(cd components/monitoring/rules/tests && promtool test rules ./*.test.yml >&2)
if command -v shellcheck >/dev/null; then
  shellcheck -x scripts/monitoring/*.sh
else
  log "shellcheck not installed: skipped (the root CI runs it)"
fi

# The live-model textfile of two production machines on different versions.
for m in 3 4; do
  models=$OUT_DIR/models-$m
  mkdir -p "$models/versions/20261201T1200Z-ci000001" "$models/versions/20261201T0900Z-ci000000" "$OUT_DIR/textfile-$m"
  if [[ $m == 3 ]]; then v=20261201T1200Z-ci000001; else v=20261201T0900Z-ci000000; fi
  ln -sfn "versions/$v" "$models/current"
  bash scripts/monitoring/model-metric-loop.sh "$models" "$OUT_DIR/textfile-$m/rayswarm_model.prom" --once
  grep -q "rayswarm_model_live_info{version=\"$v\"} 1" "$OUT_DIR/textfile-$m/rayswarm_model.prom" || die "model textfile of .$m is wrong"
  promtool check metrics <"$OUT_DIR/textfile-$m/rayswarm_model.prom" >&2
done

# --- 2b. the host scripts for real (no systemd here: their detached fallback) ----------------
# node-exporter.sh and prometheus.sh twice each (the second run must change nothing), on
# loopback ports, then stop.sh (the delete step). They write /etc/prometheus and
# /etc/default/prometheus* of this machine, as they do on the orchestration machine.
changed_of() { tail -n 1 | sed -n 's/^changed=//p'; }
expect_changed() { # expect_changed WANT WHAT CMD... (stdin passed through)
  local want=$1 what=$2 got
  shift 2
  got=$("$@" 2>>"$OUT_DIR/scripts.log" | changed_of) || die "$what failed (see $OUT_DIR/scripts.log)"
  [[ $got == "$want" ]] || die "$what: changed=$got, expected $want (see $OUT_DIR/scripts.log)"
}
log "scripts: node-exporter.sh, prometheus.sh (twice each), stop.sh"
bash scripts/monitoring/stop.sh >/dev/null 2>>"$OUT_DIR/scripts.log"
expect_changed true "node-exporter.sh (first run)" bash scripts/monitoring/node-exporter.sh 127.0.0.1 19102 1.5.0
expect_changed false "node-exporter.sh (second run)" bash scripts/monitoring/node-exporter.sh 127.0.0.1 19102 1.5.0
curl -fsS -o "$OUT_DIR/node-exporter.metrics" http://127.0.0.1:19102/metrics || die "the node exporter does not answer on 127.0.0.1:19102"
grep -q '^node_cpu_seconds_total' "$OUT_DIR/node-exporter.metrics" || die "the node exporter on 127.0.0.1:19102 has no CPU series"
# This machine's real reading (a VM's root; tests/integration/monitoring-node.test.ts does a
# container's): the page's disk figure and DiskAlmostFull, through promtool.
reading=$("$ROOT/node_modules/.bin/ts-node" --transpile-only tools/disk-reading-test.ts "$OUT_DIR/node-exporter.metrics" "$OUT_DIR/disk-reading") ||
  die "this machine's node exporter reading fails the disk checks (see above, $OUT_DIR/disk-reading)"
log "disk reading of this machine: $reading"
hook='http://127.0.0.1:19091/hook?a=1&b=2'
export PROMETHEUS_PORT=19190 ALERTMANAGER_PORT=19193
expect_changed true "prometheus.sh (first run)" bash scripts/monitoring/prometheus.sh 127.0.0.1 2.42.0 0.25.0 1d "$gen" <<<"$hook"
expect_changed false "prometheus.sh (second run)" bash scripts/monitoring/prometheus.sh 127.0.0.1 2.42.0 0.25.0 1d "$gen" <<<"$hook"
unset PROMETHEUS_PORT ALERTMANAGER_PORT
[[ "$(stat -c '%a %U:%G' /etc/prometheus/alertmanager.yml)" == "640 root:prometheus" ]] || die "alertmanager.yml is not 0640 root:prometheus"
grep -qF -- "- url: $hook" /etc/prometheus/alertmanager.yml || die "the webhook URL was not put into alertmanager.yml literally"
! grep -q "hook?a=1" "$gen/alertmanager.yml" || die "the staged alertmanager.yml holds the webhook URL"
! grep -rq "hook?a=1" /var/log/rayswarm/ "$OUT_DIR/scripts.log" || die "the webhook URL is in a log"
curl -fsS http://127.0.0.1:19190/-/ready >/dev/null || die "Prometheus (prometheus.sh) is not ready on 127.0.0.1:19190"
if ss -ltn | awk '{print $4}' | grep -qE '^(0\.0\.0\.0|\*|\[::\]):(9094|19190|19193|19102)$'; then
  die "something listens on every address"
fi
expect_changed true "stop.sh" bash scripts/monitoring/stop.sh
expect_changed false "stop.sh (again)" bash scripts/monitoring/stop.sh

# --- 3. run it briefly on loopback ------------------------------------------------------------
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
bg() { # bg LOGNAME CMD...: start CMD in the background, remember its pid
  local name=$1
  shift
  "$@" >"$OUT_DIR/$name.log" 2>&1 &
  pids+=($!)
}

# Stand-in for the relay: synthetic series as /federate would give them (jobs api, worker,
# rabbitmq, rabbitmq-queues, redis); counters grow with time. Also takes the webhook POSTs.
cat >"$OUT_DIR/fake-relay.py" <<'EOF'
import http.server, sys, time
T0 = time.time()
def body():
    t = time.time() - T0
    api = [("10.0.1.11:8080"), ("10.0.1.12:8080")]
    wk = [("10.0.1.21:8080"), ("10.0.1.22:8080")]
    out = []
    for i in api:
        out.append(f'up{{job="api",instance="{i}"}} 1')
        out.append(f'serving_model_info{{job="api",instance="{i}",role="api",version="20261201T1200Z-ci000001"}} 1')
        for le, share in (("0.005", 0.6), ("0.01", 0.9), ("0.025", 0.97), ("0.05", 0.995), ("+Inf", 1.0)):
            out.append(f'serving_http_request_duration_seconds_bucket{{job="api",instance="{i}",route="/v1/predictions",method="POST",status_code="202",le="{le}"}} {int(50 * t * share)}')
        out.append(f'serving_http_request_duration_seconds_count{{job="api",instance="{i}",route="/v1/predictions",method="POST",status_code="202"}} {int(50 * t)}')
        out.append(f'serving_http_request_duration_seconds_count{{job="api",instance="{i}",route="/v1/predictions",method="POST",status_code="503"}} {int(t / 2)}')
    for i in wk:
        out.append(f'up{{job="worker",instance="{i}"}} 1')
        out.append(f'serving_tasks_total{{job="worker",instance="{i}",role="worker",outcome="done"}} {int(49 * t)}')
        out.append(f'serving_tasks_total{{job="worker",instance="{i}",role="worker",outcome="failed"}} {int(t / 4)}')
    q = 'job="rabbitmq-queues",instance="10.0.1.5:15692",vhost="/"'
    out += [f'up{{{q}}} 1', f'up{{job="rabbitmq",instance="10.0.1.5:15692"}} 1', 'up{job="redis",instance="10.0.1.30:9121"} 1',
            f'rabbitmq_detailed_queue_messages_ready{{{q},queue="predictions"}} 37',
            f'rabbitmq_detailed_queue_messages_unacked{{{q},queue="predictions"}} 64',
            f'rabbitmq_detailed_queue_consumers{{{q},queue="predictions"}} 2',
            f'rabbitmq_detailed_queue_messages_ready{{{q},queue="predictions.dead"}} {3 + int(t / 5)}',
            f'rabbitmq_detailed_queue_messages_unacked{{{q},queue="predictions.dead"}} 0',
            f'rabbitmq_detailed_queue_consumers{{{q},queue="predictions.dead"}} 0',
            f'rabbitmq_global_messages_received_total{{job="rabbitmq",instance="10.0.1.5:15692",protocol="amqp091"}} {int(100 * t)}',
            f'rabbitmq_global_messages_dead_lettered_rejected_total{{job="rabbitmq",instance="10.0.1.5:15692",queue_type="rabbit_quorum_queue",dead_letter_strategy="at_most_once"}} {int(t / 5)}',
            f'rabbitmq_global_messages_dead_lettered_delivery_limit_total{{job="rabbitmq",instance="10.0.1.5:15692",queue_type="rabbit_quorum_queue",dead_letter_strategy="at_most_once"}} 0',
            'redis_up{job="redis",instance="10.0.1.30:9121"} 1',
            f'redis_commands_processed_total{{job="redis",instance="10.0.1.30:9121"}} {int(300 * t)}']
    return ("\n".join(out) + "\n").encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = body(); self.send_response(200); self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0)); sys.stdout.write("webhook " + self.rfile.read(n).decode() + "\n"); sys.stdout.flush()
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
bg fake-relay python3 "$OUT_DIR/fake-relay.py" 19091
bg node-exporter-1 prometheus-node-exporter --web.listen-address=127.0.0.1:19100 --collector.textfile.directory="$OUT_DIR/textfile-none"
for m in 3 4; do
  bg "node-exporter-$m" prometheus-node-exporter --web.listen-address="127.0.0.$m:19100" --collector.textfile.directory="$OUT_DIR/textfile-$m"
done
bg alertmanager prometheus-alertmanager --config.file="$OUT_DIR/alertmanager.yml" --storage.path="$OUT_DIR/am-data" \
  --web.listen-address=127.0.0.1:19093 --cluster.listen-address=
cp -r "$gen/consoles" "$OUT_DIR/consoles"
mkdir -p "$OUT_DIR/console_libraries"
bg prometheus prometheus --config.file="$OUT_DIR/prometheus.yml" --storage.tsdb.path="$OUT_DIR/tsdb" \
  --web.listen-address=127.0.0.1:19090 --web.console.templates="$OUT_DIR/consoles" \
  --web.console.libraries="$OUT_DIR/console_libraries"

wait_for() { # wait_for SECONDS WHAT CMD...
  local until=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < until)) || die "timed out waiting for $what (logs in $OUT_DIR)"
    sleep 1
  done
}
wait_for 60 "Prometheus ready" curl -fsS http://127.0.0.1:19090/-/ready
wait_for 30 "Alertmanager ready" curl -fsS http://127.0.0.1:19093/-/ready
q() { curl -fsS --get http://127.0.0.1:19090/api/v1/query --data-urlencode "query=$1"; }
value_of() { q "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'; }
has_value() { [[ -n "$(value_of "$1")" ]]; }
# Enough samples for rate() over a few scrapes at 2 s.
wait_for 60 "federated worker rate" has_value 'rayswarm:worker_tasks:rate5m'

log "targets"
health=$(curl -fsS http://127.0.0.1:19090/api/v1/targets | python3 -c '
import json, sys
for t in json.load(sys.stdin)["data"]["activeTargets"]:
    print(t["labels"]["job"], t["labels"].get("instance", t["scrapeUrl"]), t["health"])' | sort)
printf '%s\n' "$health" >&2
expect_target() { grep -qx "$1" <<<"$health" || die "expected target '$1'"; }
expect_target "node ci-orchestration up"
expect_target "node ci-swarm-manager-0 up"
expect_target "node ci-swarm-worker-0 up"
expect_target "node ci-ray-head down"
expect_target "ray ci-ray-head down"
expect_target "swarm-relay 127.0.0.1:19091 up"
expect_target "prometheus 127.0.0.1:19090 up"
expect_target "alertmanager 127.0.0.1:19093 up"
[[ "$(value_of 'count(up{job="worker"} == 1)')" == 2 ]] || die "the federated workers' up series are missing"
[[ "$(value_of 'count(count by (version) (rayswarm_model_live_info == 1))')" == 2 ]] || die "the two machines' model versions are missing"
[[ "$(value_of 'rayswarm:stack_info')" == 1 ]] || die "the expectation rules are not loaded"

log "an alert without for: (TasksDeadLettered) reaches Alertmanager"
wait_for 60 "TasksDeadLettered firing" has_value 'ALERTS{alertname="TasksDeadLettered",alertstate="firing"}'
wait_for 30 "the alert in Alertmanager" bash -c "amtool alert query --alertmanager.url=http://127.0.0.1:19093 alertname=TasksDeadLettered | grep -q TasksDeadLettered"

log "the webhook receives it (after Alertmanager's group_wait of 30 s)"
wait_for 60 "the webhook POST" grep -q '"alertname":"TasksDeadLettered"' "$OUT_DIR/fake-relay.log"

log "console page"
page=$OUT_DIR/console.html
curl -fsS -o "$page" http://127.0.0.1:19090/consoles/rayswarm.html
for want in "operator view" ci-orchestration ci-swarm-worker-0 20261201T1200Z-ci000001 20261201T0900Z-ci000000 predictions.dead "req/s" TasksDeadLettered; do
  grep -q -- "$want" "$page" || die "the console page lacks '$want' (see $page)"
done
if grep -qi "error executing template\|<no value>" "$page"; then die "the console page has template errors (see $page)"; fi

# --- 4. screenshot ---------------------------------------------------------------------------
if [[ -n "$chromium" ]]; then
  log "screenshot with $chromium"
  timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$OUT_DIR/chromium-profile" --hide-scrollbars \
    --window-size=1400,1000 --screenshot="$OUT_DIR/console.png" http://127.0.0.1:19090/consoles/rayswarm.html \
    >"$OUT_DIR/chromium.log" 2>&1 || die "chromium failed (see $OUT_DIR/chromium.log)"
  [[ -s "$OUT_DIR/console.png" ]] || die "no screenshot written"
  log "screenshot: $OUT_DIR/console.png"
else
  log "chromium not installed: no screenshot"
fi

log "OK in $((SECONDS - start)) s (files, logs: $OUT_DIR)"
