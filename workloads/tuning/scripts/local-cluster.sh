#!/usr/bin/env bash
# A multi-node Ray cluster on loopback for the scaling benchmark (docs/benchmarks.md):
#
#   scripts/local-cluster.sh start <dir> <base-port> <worker-nodes> [<cpus-per-worker>]
#   scripts/local-cluster.sh stop <dir>
#
# start: a head with 0 CPUs (it schedules, runs no folds) and <worker-nodes> worker nodes,
# each its own raylet with --num-cpus <cpus-per-worker> (default 1), all `ray start --block`
# processes in the background whose PIDs go to <dir>/pids. Every port is explicit and derived
# from <base-port> (GCS = base, the rest above it), so it never collides with a Ray on the
# default ports; Ray's files go to <dir>/ray, its auth token to <dir>/auth_token. Prints the
# address (127.0.0.1:<base-port>); a driver needs RAY_AUTH_MODE=token and
# RAY_AUTH_TOKEN_PATH=<dir>/auth_token.
# Each node runs in its own session (setsid), as a `ray start` under systemd on its own machine
# would: Linux's autogroup scheduling then gives each node its own CPU share, where processes of
# one session share one (see the Tuning section of docs/benchmarks.md).
# stop: SIGTERM to exactly those PIDs (`ray start --block` then stops the processes it
# started), never `ray stop`, which would stop every Ray on the machine.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
ray_bin="${RAY_BIN:-${here}/.venv/bin/ray}"

die() { echo "local-cluster.sh: $*" >&2; exit 1; }

start() {
  local dir=$1 base=$2 workers=$3 cpus=${4:-1}
  [[ "$base" =~ ^[0-9]+$ && "$base" -ge 1024 && "$base" -le 60000 ]] || die "base port 1024..60000"
  [[ "$workers" =~ ^[0-9]+$ && "$workers" -ge 1 ]] || die "worker nodes >= 1"
  [[ -e "$dir/pids" ]] && die "$dir/pids exists: stop that cluster first"
  mkdir -p "$dir/ray" "$dir/logs"
  : > "$dir/pids"
  # Ray 2.60 authenticates with a token: this cluster has its own (0600 file in <dir>), and
  # a driver must use it: RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=<dir>/auth_token.
  (umask 077 && "${here}/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))' \
    > "$dir/auth_token")
  export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$dir/auth_token"
  export RAY_USAGE_STATS_ENABLED=0 RAY_worker_niceness="${RAY_worker_niceness:-0}"
  # head: ports base..base+9, workers' ports base+100..base+199
  setsid nohup "$ray_bin" start --block --head --node-ip-address 127.0.0.1 --port "$base" \
    --num-cpus 0 --temp-dir "$dir/ray" --include-dashboard false --disable-usage-stats \
    --node-manager-port $((base + 1)) --object-manager-port $((base + 2)) \
    --dashboard-port $((base + 4)) \
    --dashboard-agent-listen-port $((base + 5)) --dashboard-agent-grpc-port $((base + 6)) \
    --metrics-export-port $((base + 7)) --runtime-env-agent-port $((base + 8)) \
    --min-worker-port $((base + 100)) --max-worker-port $((base + 199)) \
    > "$dir/logs/head.log" 2>&1 &
  echo $! >> "$dir/pids"
  wait_for "$dir" 0
  local i p
  for ((i = 1; i <= workers; i++)); do
    p=$((base + 200 * i))  # node i: ports p..p+9, its workers' ports p+100..p+199
    setsid nohup "$ray_bin" start --block --address "127.0.0.1:$base" --node-ip-address 127.0.0.1 \
      --num-cpus "$cpus" --disable-usage-stats \
      --node-manager-port "$p" --object-manager-port $((p + 1)) \
      --dashboard-agent-listen-port $((p + 2)) --dashboard-agent-grpc-port $((p + 3)) \
      --metrics-export-port $((p + 4)) --runtime-env-agent-port $((p + 5)) \
      --min-worker-port $((p + 100)) --max-worker-port $((p + 199)) \
      > "$dir/logs/worker-$i.log" 2>&1 &
    echo $! >> "$dir/pids"
    wait_for "$dir" $((i * cpus))  # one node at a time: a busy GCS times out parallel joins
  done
  echo "127.0.0.1:$base"
  echo "export RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH=$dir/auth_token  # for a driver" >&2
}

# Wait (bounded) until the cluster answers and, for <cpus> > 0, reports that many CPUs.
wait_for() {
  local dir=$1 want=$2 status
  for _ in $(seq 1 120); do
    if status=$("$ray_bin" status --address "127.0.0.1:${base}" 2>/dev/null); then
      if [[ "$want" -eq 0 ]] || grep -Eq "/${want}(\.0)? CPU" <<<"$status"; then
        return 0
      fi
    fi
    sleep 1
  done
  die "the cluster in $dir did not reach ${want} CPUs in 120 s (see $dir/logs)"
}

# A PID from <dir>/pids that is still our `ray start --block` (a PID can be reused).
ours() {
  local pid=$1
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "ray start --block"
}

stop() {
  local dir=$1 pid alive
  [[ -f "$dir/pids" ]] || die "no $dir/pids: nothing started there"
  while read -r pid; do
    if ours "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
  done < "$dir/pids"
  for _ in $(seq 1 30); do
    alive=0
    while read -r pid; do
      if ours "$pid"; then alive=1; fi
    done < "$dir/pids"
    [[ $alive -eq 0 ]] && break
    sleep 1
  done
  [[ $alive -eq 0 ]] || die "some of the PIDs in $dir/pids did not stop in 30 s"
  rm -f "$dir/pids"
}

case "${1:-}" in
  start) shift; [[ $# -ge 3 ]] || die "start <dir> <base-port> <worker-nodes> [<cpus-per-worker>]"
    base=$2; start "$@" ;;
  stop) shift; [[ $# -eq 1 ]] || die "stop <dir>"; stop "$1" ;;
  *) die "usage: local-cluster.sh start <dir> <base-port> <worker-nodes> [<cpus>] | stop <dir>" ;;
esac
