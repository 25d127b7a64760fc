#!/usr/bin/env bash
# CI for the OpenStack control plane (tests/openstack): installs its Debian packages, starts
# the plane (keystone, glance, placement, nova with the fake driver, neutron API, a private
# RabbitMQ), runs the `openstack` CLI smoke test as the member user, then the program with the
# real engine (tests/openstack/pulumi-infrastructure.sh: up of a dev-like stack with
# rayswarm:deploy infrastructure, API checks, no-change preview, scale-out, destroy), and
# stops the plane, whatever happened. Run from anywhere as root on a Debian bookworm machine
# with the engine installed (scripts/install-pulumi.sh) and `npm ci` done. About 7 minutes once
# the packages are installed; the packages themselves take about 3 minutes the first time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# One run at a time on a machine: it needs the control plane's ports 35300-35312 and its state directory. A second run waits here.
# (flock -o: the lock stays with flock itself, not with daemons this run starts.)
if [[ -z ${RAYSWARM_OPENSTACK_PORTS_LOCKED:-} ]]; then
  flock -n /tmp/rayswarm-openstack-ports.lock true || echo "$(basename "$0"): another run holds /tmp/rayswarm-openstack-ports.lock; waiting for it" >&2
  RAYSWARM_OPENSTACK_PORTS_LOCKED=1 exec flock -o /tmp/rayswarm-openstack-ports.lock bash "$(realpath "${BASH_SOURCE[0]}")" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
CP=tests/openstack/control-plane.sh
START=$SECONDS

bash "$CP" install
# The SQLite shim the plane's services load: oslo.db's read-then-write transaction fails at once
# without it ("database is locked") and waits for the lock with it.
SQLALCHEMY_SILENCE_UBER_WARNING=1 /usr/bin/python3 tests/openstack/sqlite_lazy_begin_check.py expect-failure
SQLALCHEMY_SILENCE_UBER_WARNING=1 PYTHONPATH=tests/openstack/sqlite-lazy-begin /usr/bin/python3 tests/openstack/sqlite_lazy_begin_check.py expect-success
t=$SECONDS
# Stop what this run started, whatever happens (a plane that was already up is reused, and
# stopped too: CI leaves nothing running).
trap 'bash "$CP" stop || true' EXIT
# .ci/run stops this stage with SIGTERM when another stage failed: stop the plane then too.
trap 'exit 143' TERM INT
# Always a fresh plane: the state directory outlives a CI run, and a run that was killed half-way
# (or a destroy the plane left undone) leaves objects there that the pulumi test refuses to
# mix with its own. A first start takes about 2 minutes instead of a warm start's 40 s.
bash "$CP" destroy
bash "$CP" start
echo "openstack: control plane up in $((SECONDS - t))s"
bash "$CP" status
eval "$(bash "$CP" env)"
t=$SECONDS
bash tests/openstack/smoke.sh
echo "openstack: smoke test in $((SECONDS - t))s"
t=$SECONDS
bash tests/openstack/pulumi-infrastructure.sh
echo "openstack: pulumi test in $((SECONDS - t))s"
echo "openstack: all passed in $((SECONDS - START))s"
