#!/usr/bin/env bash
# A real OpenStack control plane (Zed, Debian bookworm packages) on loopback, for tests.
#
# Usage: control-plane.sh install|start|stop|status|env [--admin]|destroy
#   install   apt-get install the packages (no service is started by the packages)
#   start     start every service (first start: databases, identities, flavors, image, public
#             network); a plane that is already up is reused
#   stop      stop every process this script started (by its own PIDs only)
#   status    the processes, their RSS, and whether each API answers
#   env       OS_* variables of the member project (`--admin`: the admin project)
#   destroy   stop, then remove the state directory
#
# Services: keystone, placement (uwsgi), glance-api, nova-api, nova-conductor, nova-scheduler,
# N x nova-compute (fake.FakeDriver, one per fake hypervisor host, so anti-affinity groups
# can hold several members), neutron-server (API only, ML2 with a binding-only mechanism
# driver: tests/openstack/neutron-plugin), a private RabbitMQ (own node name, ports, epmd
# and data directories) for the RPC of nova and neutron, SQLite databases. One worker each.
#
# Environment: RAYSWARM_OPENSTACK_STATE (default /var/lib/rayswarm-openstack),
# RAYSWARM_OPENSTACK_PORT_BASE (default 35300: keystone +0, glance +1, placement +2,
# nova +3, neutron +4, rabbitmq +10, its dist port +11, its epmd +12),
# RAYSWARM_OPENSTACK_COMPUTES (default 3), RAYSWARM_OPENSTACK_TIMEOUT (readiness, default 180 s).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE=${RAYSWARM_OPENSTACK_STATE:-/var/lib/rayswarm-openstack}
BASE=${RAYSWARM_OPENSTACK_PORT_BASE:-35300}
COMPUTES=${RAYSWARM_OPENSTACK_COMPUTES:-3}
TIMEOUT=${RAYSWARM_OPENSTACK_TIMEOUT:-180}
PY=/usr/bin/python3 # Debian's python: the OpenStack packages live there, not in a pyenv
IP=127.0.0.1
KEYSTONE_PORT=$BASE
GLANCE_PORT=$((BASE + 1))
PLACEMENT_PORT=$((BASE + 2))
NOVA_PORT=$((BASE + 3))
NEUTRON_PORT=$((BASE + 4))
RABBIT_PORT=$((BASE + 10))
RABBIT_DIST_PORT=$((BASE + 11))
EPMD_PORT=$((BASE + 12))
RABBIT_NODE=rayswarm-openstack@localhost
REGION=RegionOne
MEMBER_PROJECT=rayswarm
MEMBER_USER=rayswarm

PACKAGES=(keystone glance-api placement-api nova-api nova-conductor nova-scheduler python3-nova
  neutron-server python3-openstackclient uwsgi-plugin-python3 rabbitmq-server sqlite3 curl)

ETC=$STATE/etc
LOG=$STATE/log
RUN=$STATE/run
DB=$STATE/db

log() { printf '[openstack %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# ---------------------------------------------------------------- install

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    log "packages: all installed"
    return
  fi
  log "packages: installing ${missing[*]}"
  local made_policy=false
  # No service may start during the install (no systemd here, and we run our own instances).
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=true
  fi
  local t0=$SECONDS rc=0
  export DEBIAN_FRONTEND=noninteractive
  # Another apt-get may hold the dpkg lock: wait for it (bounded) rather than fail.
  apt-get -o DPkg::Lock::Timeout=900 update -qq || rc=$?
  ((rc == 0)) && { apt-get install -y -qq -o DPkg::Lock::Timeout=900 --no-install-recommends "${missing[@]}" >"$LOG_INSTALL" 2>&1 || rc=$?; }
  $made_policy && rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get install failed (rc=$rc); see $LOG_INSTALL"
  log "packages: installed in $((SECONDS - t0))s"
}

# ---------------------------------------------------------------- processes

pidfile() { echo "$RUN/$1.pid"; }

# running NAME: the process we recorded is alive (and is still ours: same start time).
running() {
  local f pid start
  f=$(pidfile "$1")
  [[ -s $f ]] || return 1
  read -r pid start <"$f"
  [[ -d /proc/$pid ]] || return 1
  [[ "$(proc_start "$pid")" == "$start" ]]
}

proc_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

# Python services load tests/openstack/sqlite-lazy-begin/sitecustomize.py: a transaction takes
# SQLite's write lock (waiting for it) at its first write instead of failing with "database is
# locked" when it read first and another service wrote meanwhile (see that file).
SHIM=$HERE/sqlite-lazy-begin

# spawn NAME CMD...: start CMD in its own session (its own process group), log to $LOG/NAME.log.
spawn() {
  local name=$1
  shift
  if running "$name"; then return 0; fi
  setsid env PYTHONPATH="$SHIM" "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid $(proc_start "$pid")" >"$(pidfile "$name")"
}

# Every name we may have started, in stop order (dependents first).
all_names() {
  local i
  echo neutron-server
  for ((i = 0; i < COMPUTES; i++)); do echo "nova-compute-$i"; done
  # computes from an earlier start with a larger RAYSWARM_OPENSTACK_COMPUTES
  for f in "$RUN"/nova-compute-*.pid; do [[ -e $f ]] && basename "$f" .pid; done
  echo nova-scheduler nova-conductor nova-api glance-api placement keystone rabbitmq epmd
}

# stop_all: SIGTERM to every process group we started (all at once), SIGKILL after 20 s.
stop_all() {
  local n pid _start pids=() left=()
  for n in $(all_names | awk '!seen[$0]++'); do
    [[ -s $(pidfile "$n") ]] || continue
    if running "$n"; then
      read -r pid _start <"$(pidfile "$n")"
      kill -TERM -- "-$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  local deadline=$((SECONDS + 20)) alive
  while :; do
    alive=" $(ps -eo pgid= | tr -s ' \n' ' ') "
    left=()
    for pid in "${pids[@]}"; do [[ $alive == *" $pid "* ]] && left+=("$pid"); done
    ((${#left[@]} == 0 || SECONDS >= deadline)) && break
    sleep 0.3
  done
  for pid in "${left[@]}"; do
    log "process group $pid still running after 20 s: SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  rm -f "$RUN"/*.pid
}


# The process groups of the running plane (one per spawned service).
our_pgids() {
  local n pid _s
  for n in $(all_names | sort -u); do
    if running "$n"; then
      read -r pid _s <"$(pidfile "$n")"
      echo "$pid"
    fi
  done
}

rss_mib() {
  local pg total=0 kb
  for pg in $(our_pgids); do
    for kb in $(ps -o rss= -g "$pg" 2>/dev/null); do total=$((total + kb)); done
  done
  echo $((total / 1024))
}

port_free() { ! (exec 3<>"/dev/tcp/$IP/$1") 2>/dev/null; }

# wait_http NAME URL: until the URL answers with any HTTP status below 500.
wait_http() {
  local name=$1 url=$2 deadline=$((SECONDS + TIMEOUT)) code
  while ((SECONDS < deadline)); do
    running "$name" || die "$name exited during start-up; last lines of $LOG/$name.log:
$(tail -n 30 "$LOG/$name.log" 2>/dev/null)"
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" || true)
    if [[ $code =~ ^[1-4][0-9][0-9]$ ]]; then return 0; fi
    sleep 1
  done
  die "$name did not answer at $url within ${TIMEOUT}s; last lines of $LOG/$name.log:
$(tail -n 30 "$LOG/$name.log" 2>/dev/null)"
}

# ---------------------------------------------------------------- configuration

secret() {
  local f=$STATE/secrets/$1
  if [[ ! -s $f ]]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$f")
  fi
  cat "$f"
}

authtoken() { # authtoken USER: a [keystone_authtoken] section for a service user
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://$IP:$KEYSTONE_PORT/v3
auth_url = http://$IP:$KEYSTONE_PORT/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $(secret "$1")
interface = public
EOF
}

service_auth() { # service_auth SECTION USER: keystoneauth options to call another service
  cat <<EOF
[$1]
auth_type = password
auth_url = http://$IP:$KEYSTONE_PORT/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $(secret "$2")
region_name = $REGION
valid_interfaces = public
EOF
}

transport() { echo "rabbit://guest:guest@$IP:$RABBIT_PORT/"; }

write_configs() {
  mkdir -p "$ETC"/{keystone,glance,placement,nova,neutron} "$STATE"/{keystone,glance/images,glance/staging,glance/tasks,nova/instances,neutron,lock}
  cat >"$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $LOG/keystone-app.log
[database]
connection = sqlite:///$DB/keystone.sqlite$SQLITE_OPTS
[token]
provider = fernet
[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys
[credential]
key_repository = $STATE/keystone/credential-keys
[paste_deploy]
config_file = /etc/keystone/keystone-paste.ini
EOF

  {
    cat <<EOF
[DEFAULT]
bind_host = $IP
bind_port = $GLANCE_PORT
workers = 0
graceful_shutdown_timeout = 5
enabled_backends = file:file
log_file = $LOG/glance-api-app.log
[database]
connection = sqlite:///$DB/glance.sqlite$SQLITE_OPTS
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $STATE/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks/
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $STATE/lock
EOF
    authtoken glance
  } >"$ETC/glance/glance-api.conf"

  {
    cat <<EOF
[DEFAULT]
log_file = $LOG/placement-app.log
[placement_database]
connection = sqlite:///$DB/placement.sqlite$SQLITE_OPTS
[api]
auth_strategy = keystone
EOF
    authtoken placement
  } >"$ETC/placement/placement.conf"

  {
    cat <<EOF
[DEFAULT]
transport_url = $(transport)
state_path = $STATE/nova
instances_path = $STATE/nova/instances
my_ip = $IP
compute_driver = fake.FakeDriver
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
enabled_apis = osapi_compute
osapi_compute_listen = $IP
osapi_compute_listen_port = $NOVA_PORT
osapi_compute_workers = 1
graceful_shutdown_timeout = 5
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[api_database]
connection = sqlite:///$DB/nova_api.sqlite$SQLITE_OPTS
[database]
connection = sqlite:///$DB/nova.sqlite$SQLITE_OPTS
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
[quota]
instances = 50
cores = 1000
ram = 4096000
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
[glance]
valid_interfaces = public
region_name = $REGION
EOF
    authtoken nova
    service_auth placement nova
    service_auth neutron nova
  } >"$ETC/nova/nova.conf"
  # nova-api-wsgi loads the paste pipeline from the first file of its config folder.
  cp -f /etc/nova/api-paste.ini "$ETC/nova/api-paste.ini"
  local i
  for ((i = 0; i < COMPUTES; i++)); do
    printf '[DEFAULT]\nhost = rayswarm-compute-%s\n' "$i" >"$ETC/nova/compute-$i.conf"
  done

  {
    cat <<EOF
[DEFAULT]
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
bind_host = $IP
bind_port = $NEUTRON_PORT
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
transport_url = $(transport)
state_path = $STATE/neutron
api_paste_config = /etc/neutron/api-paste.ini
allow_overlapping_ips = true
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
dhcp_agent_notification = false
log_file = $LOG/neutron-server-app.log
[database]
connection = sqlite:///$DB/neutron.sqlite$SQLITE_OPTS
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = rayswarm_fake
extension_drivers = port_security
[ml2_type_flat]
flat_networks = physnet1
[ml2_type_vxlan]
vni_ranges = 1:10000
[securitygroup]
enable_security_group = true
[quotas]
quota_network = 100
quota_subnet = 100
quota_port = 1000
quota_router = 50
quota_floatingip = 100
quota_security_group = 100
quota_security_group_rule = 1000
[oslo_concurrency]
lock_path = $STATE/lock
[oslo_messaging_notifications]
driver = noop
EOF
    authtoken neutron
  } >"$ETC/neutron/neutron.conf"
}

# ---------------------------------------------------------------- services

start_rabbitmq() {
  running rabbitmq && return 0
  local d=$STATE/rabbitmq
  mkdir -p "$d"/{mnesia,log,home}
  echo '[].' >"$d/enabled_plugins"
  printf 'listeners.tcp.default = %s:%s\nloopback_users.guest = true\n' "$IP" "$RABBIT_PORT" >"$d/rabbitmq.conf"
  : >"$d/rabbitmq-env.conf"
  chown -R rabbitmq:rabbitmq "$d"
  port_free "$RABBIT_PORT" || die "port $RABBIT_PORT (rabbitmq) is taken by another process; set RAYSWARM_OPENSTACK_PORT_BASE"
  # A private epmd on its own port: the other RabbitMQ instances on this machine keep theirs.
  spawn epmd /usr/bin/epmd -port "$EPMD_PORT" -address "$IP"
  spawn rabbitmq env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME="$d/home" \
    RABBITMQ_NODENAME="$RABBIT_NODE" RABBITMQ_NODE_IP_ADDRESS="$IP" RABBITMQ_NODE_PORT="$RABBIT_PORT" \
    RABBITMQ_DIST_PORT="$RABBIT_DIST_PORT" RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" \
    RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" \
    RABBITMQ_CONF_ENV_FILE="$d/rabbitmq-env.conf" ERL_EPMD_PORT="$EPMD_PORT" ERL_EPMD_ADDRESS="$IP" \
    runuser -u rabbitmq -- /usr/lib/rabbitmq/bin/rabbitmq-server
}

wait_rabbitmq() {
  local deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    running rabbitmq || die "rabbitmq exited during start-up; see $LOG/rabbitmq.log and $STATE/rabbitmq/log"
    ! port_free "$RABBIT_PORT" && return 0
    sleep 0.5
  done
  die "rabbitmq not listening on $IP:$RABBIT_PORT within ${TIMEOUT}s; see $STATE/rabbitmq/log"
}

# uwsgi_app NAME PORT WSGI-FILE ENV=VALUE...: one process, one thread (SQLite connections must
# stay on the thread that opened them). uwsgi's http-socket closes every connection after the
# response: say so, or clients reuse the closed connection and a POST fails ("Remote end
# closed connection without response").
uwsgi_app() {
  local name=$1 port=$2 file=$3 envs=() e
  shift 3
  for e in "$@"; do envs+=(--env "$e"); done
  spawn "$name" uwsgi --plugin python3 --http-socket "$IP:$port" --wsgi-file "$file" "${envs[@]}" \
    --master --processes 1 --threads 1 --lazy-apps --die-on-term --need-app \
    --buffer-size 65535 --add-header "Connection: close"
}

# Every SQLite URL: a writer waits up to 60 s for the lock (pysqlite's default is 5 s). With
# five servers built at once on a busy 2-core machine, nova-conductor's and nova-compute's
# writes waited longer than 5 s and failed with "database is locked": the instances stayed in
# BUILD/scheduling (or ACTIVE after a failed delete) for ever, and `pulumi up` waited on them.
SQLITE_OPTS='?timeout=60'

# wal FILE...: write-ahead logging. oslo.db opens a transaction for every read; in SQLite's
# default (rollback journal) mode an open read blocks every writer, and a service that reads in
# one session and writes in another within one request waits for itself ("database is locked").
# With WAL readers never block the writer.
wal() {
  local f
  for f in "$@"; do
    [[ "$(sqlite3 "$f" 'PRAGMA journal_mode=WAL;')" == wal ]] || die "could not switch $f to WAL"
  done
}

start_keystone() {
  local conf=$ETC/keystone/keystone.conf
  if [[ ! -e $STATE/.keystone-db ]]; then
    log "keystone: database, keys, bootstrap"
    keystone-manage --config-file "$conf" db_sync >>"$LOG/setup.log" 2>&1 || die "keystone-manage db_sync failed; see $LOG/setup.log"
    mkdir -p "$STATE/keystone/fernet-keys" "$STATE/keystone/credential-keys"
    keystone-manage --config-file "$conf" fernet_setup --keystone-user root --keystone-group root >>"$LOG/setup.log" 2>&1
    keystone-manage --config-file "$conf" credential_setup --keystone-user root --keystone-group root >>"$LOG/setup.log" 2>&1
    keystone-manage --config-file "$conf" bootstrap --bootstrap-password "$(secret admin)" \
      --bootstrap-admin-url "http://$IP:$KEYSTONE_PORT/v3/" --bootstrap-internal-url "http://$IP:$KEYSTONE_PORT/v3/" \
      --bootstrap-public-url "http://$IP:$KEYSTONE_PORT/v3/" --bootstrap-region-id "$REGION" >>"$LOG/setup.log" 2>&1 ||
      die "keystone-manage bootstrap failed; see $LOG/setup.log"
    wal "$DB/keystone.sqlite"
    touch "$STATE/.keystone-db"
  fi
  port_free "$KEYSTONE_PORT" || running keystone || die "port $KEYSTONE_PORT (keystone) is taken by another process"
  uwsgi_app keystone "$KEYSTONE_PORT" /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_DIR=$ETC/keystone"
}

# The databases of glance, placement, nova and neutron (first start only).
sync_databases() {
  if [[ ! -e $STATE/.glance-db ]]; then
    glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync >>"$LOG/setup.log" 2>&1 || die "glance-manage db_sync failed; see $LOG/setup.log"
    wal "$DB/glance.sqlite"
    touch "$STATE/.glance-db"
  fi
  if [[ ! -e $STATE/.placement-db ]]; then
    placement-manage --config-file "$ETC/placement/placement.conf" db sync >>"$LOG/setup.log" 2>&1 || die "placement-manage db sync failed; see $LOG/setup.log"
    wal "$DB/placement.sqlite"
    touch "$STATE/.placement-db"
  fi
  if [[ ! -e $STATE/.nova-db ]]; then
    local n=(nova-manage --config-file "$ETC/nova/nova.conf")
    {
      "${n[@]}" api_db sync &&
        "${n[@]}" cell_v2 map_cell0 --database_connection "sqlite:///$DB/nova_cell0.sqlite$SQLITE_OPTS" &&
        "${n[@]}" cell_v2 create_cell --name cell1 &&
        "${n[@]}" db sync
    } >>"$LOG/setup.log" 2>&1 || die "nova-manage database set-up failed; see $LOG/setup.log"
    wal "$DB/nova_api.sqlite" "$DB/nova_cell0.sqlite" "$DB/nova.sqlite"
    touch "$STATE/.nova-db"
  fi
  # The cells' URLs are stored in nova_api (a plane made before SQLITE_OPTS gets them too).
  sqlite3 "$DB/nova_api.sqlite" "UPDATE cell_mappings SET database_connection = database_connection || '$SQLITE_OPTS' WHERE database_connection LIKE 'sqlite:%' AND database_connection NOT LIKE '%?%';"
  if [[ ! -e $STATE/.neutron-db ]]; then
    # Neutron's migrations are written for MySQL/PostgreSQL; on SQLite create the schema from
    # the models (as neutron's own unit tests do) and stamp it at the heads.
    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$HERE/neutron-plugin "$PY" - "sqlite:///$DB/neutron.sqlite" >>"$LOG/setup.log" 2>&1 <<'EOF' || die "neutron schema creation failed; see $LOG/setup.log"
import sys
import sqlalchemy
from neutron.db.migration.models import head  # noqa: F401  (imports every model)
from neutron_lib.db import model_base
model_base.BASEV2.metadata.create_all(sqlalchemy.create_engine(sys.argv[1]))
EOF
    neutron-db-manage --config-file "$ETC/neutron/neutron.conf" stamp heads >>"$LOG/setup.log" 2>&1 || die "neutron-db-manage stamp heads failed; see $LOG/setup.log"
    wal "$DB/neutron.sqlite"
    touch "$STATE/.neutron-db"
  fi
}

start_services() {
  local i n p
  for n in placement:$PLACEMENT_PORT glance-api:$GLANCE_PORT nova-api:$NOVA_PORT neutron-server:$NEUTRON_PORT; do
    p=${n#*:}
    running "${n%%:*}" || port_free "$p" || die "port $p (${n%%:*}) is taken by another process; set RAYSWARM_OPENSTACK_PORT_BASE"
  done
  uwsgi_app placement "$PLACEMENT_PORT" /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$ETC/placement"
  spawn glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
  # Under uwsgi: one process (the eventlet nova-api forks a worker and keeps its parent: 288 MiB).
  uwsgi_app nova-api "$NOVA_PORT" /usr/bin/nova-api-wsgi "OS_NOVA_CONFIG_DIR=$ETC/nova" "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf"
  spawn nova-conductor nova-conductor --config-file "$ETC/nova/nova.conf" --log-file "$LOG/nova-conductor-app.log"
  spawn nova-scheduler nova-scheduler --config-file "$ETC/nova/nova.conf" --log-file "$LOG/nova-scheduler-app.log"
  for ((i = 0; i < COMPUTES; i++)); do
    spawn "nova-compute-$i" "$PY" -c 'import sys; from nova.cmd.compute import main; sys.argv[0] = "nova-compute"; sys.exit(main())' \
      --config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/compute-$i.conf" --log-file "$LOG/nova-compute-$i-app.log"
  done
  # The API alone (neutron-api under uwsgi): no RPC workers, as there are no agents to serve.
  spawn neutron-server env PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$HERE/neutron-plugin:$SHIM" uwsgi --plugin python3 --http-socket "$IP:$NEUTRON_PORT" \
    --wsgi-file /usr/bin/neutron-api --pyargv "--config-file $ETC/neutron/neutron.conf" \
    --master --processes 1 --threads 1 --lazy-apps --die-on-term --need-app --buffer-size 65535 --add-header "Connection: close"
}

# ---------------------------------------------------------------- commands

admin_env() {
  cat <<EOF
export OS_AUTH_URL=http://$IP:$KEYSTONE_PORT/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=admin
export OS_PASSWORD=$(secret admin)
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_INTERFACE=public
EOF
}

member_env() {
  cat <<EOF
export OS_AUTH_URL=http://$IP:$KEYSTONE_PORT/v3
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=$MEMBER_USER
export OS_PASSWORD=$(secret member)
export OS_PROJECT_NAME=$MEMBER_PROJECT
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_INTERFACE=public
EOF
}

names_expected() {
  local i
  echo epmd rabbitmq keystone placement glance-api nova-api nova-conductor nova-scheduler neutron-server
  for ((i = 0; i < COMPUTES; i++)); do echo "nova-compute-$i"; done
}

is_up() {
  local n
  for n in $(names_expected); do running "$n" || return 1; done
  curl -sf -m 5 -o /dev/null "http://$IP:$KEYSTONE_PORT/v3" || return 1
}

cmd_start() {
  mkdir -p "$STATE" "$LOG" "$RUN" "$DB" "$STATE/secrets"
  chmod 700 "$STATE/secrets"
  LOG_INSTALL=$LOG/install.log
  if is_up; then
    log "already running (reusing it): $(rss_mib) MiB RSS; 'control-plane.sh stop' to stop it"
    return 0
  fi
  install_packages
  command -v uwsgi >/dev/null || die "uwsgi not found (package uwsgi-core)"
  local t0=$SECONDS first=false
  [[ -e $STATE/.bootstrapped ]] || first=true
  write_configs
  start_rabbitmq
  start_keystone
  # Schemas while RabbitMQ and keystone come up (SQLite files, no server needed).
  sync_databases
  wait_rabbitmq
  wait_http keystone "http://$IP:$KEYSTONE_PORT/v3"
  if ! [[ -e $STATE/.identities ]]; then
    log "keystone: projects, users, services, endpoints"
    eval "$(admin_env)"
    SECRETS=$STATE/secrets IP=$IP REGION=$REGION KEYSTONE_PORT=$KEYSTONE_PORT GLANCE_PORT=$GLANCE_PORT \
      PLACEMENT_PORT=$PLACEMENT_PORT NOVA_PORT=$NOVA_PORT NEUTRON_PORT=$NEUTRON_PORT \
      MEMBER_PROJECT=$MEMBER_PROJECT MEMBER_USER=$MEMBER_USER \
      "$PY" "$HERE/bootstrap.py" identities >>"$LOG/setup.log" 2>&1 || die "identity bootstrap failed; see $LOG/setup.log"
    touch "$STATE/.identities"
  fi
  start_services
  wait_http placement "http://$IP:$PLACEMENT_PORT/"
  wait_http glance-api "http://$IP:$GLANCE_PORT/"
  wait_http nova-api "http://$IP:$NOVA_PORT/"
  wait_http neutron-server "http://$IP:$NEUTRON_PORT/"
  log "APIs answer after $((SECONDS - t0))s; waiting for $COMPUTES fake compute hosts"
  eval "$(admin_env)"
  local step=resources
  $first || step=computes
  SECRETS=$STATE/secrets COMPUTES=$COMPUTES TIMEOUT=$TIMEOUT IP=$IP REGION=$REGION \
    MEMBER_PROJECT=$MEMBER_PROJECT MEMBER_USER=$MEMBER_USER NOVA_CONF=$ETC/nova/nova.conf \
    "$PY" "$HERE/bootstrap.py" "$step" >>"$LOG/setup.log" 2>&1 ||
    die "$step step failed; last lines of $LOG/setup.log:
$(tail -n 30 "$LOG/setup.log")"
  touch "$STATE/.bootstrapped"
  local took=$((SECONDS - t0)) rss
  rss=$(rss_mib)
  echo "$(date -u +%FT%TZ) start first=$first seconds=$took rss_mib=$rss computes=$COMPUTES" >>"$STATE/timings"
  log "ready in ${took}s ($($first && echo 'first start' || echo 'warm start')), $rss MiB RSS; eval \"\$($0 env)\" for the member project"
}

cmd_stop() {
  [[ -d $RUN ]] || return 0
  stop_all
  log "stopped"
}

cmd_status() {
  local n ok=true pid _s
  for n in $(names_expected); do
    if running "$n"; then
      read -r pid _s <"$(pidfile "$n")"
      printf '%-16s up    pid %-7s rss %s MiB\n' "$n" "$pid" "$(($(ps -o rss= -g "$pid" | awk '{s+=$1} END {print s+0}') / 1024))"
    else
      printf '%-16s down\n' "$n"
      ok=false
    fi
  done
  local s
  for s in keystone:$KEYSTONE_PORT/v3 glance:$GLANCE_PORT/ placement:$PLACEMENT_PORT/ nova:$NOVA_PORT/ neutron:$NEUTRON_PORT/; do
    local code
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://$IP:${s#*:}" || true)
    printf '%-16s http://%s:%s -> %s\n' "${s%%:*}" "$IP" "${s#*:}" "$code"
  done
  printf 'total rss %s MiB\n' "$(rss_mib)"
  $ok
}

case "${1:-}" in
install)
  mkdir -p "$LOG"
  LOG_INSTALL=$LOG/install.log
  install_packages
  ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
env)
  [[ -s $STATE/secrets/member ]] || die "no control plane in $STATE: run '$0 start' first"
  if [[ ${2:-} == --admin ]]; then admin_env; else member_env; fi
  ;;
destroy)
  cmd_stop
  rm -rf "$STATE"
  log "removed $STATE"
  ;;
*)
  sed -n '2,12p' "$0" >&2
  exit 2
  ;;
esac
