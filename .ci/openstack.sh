#!/usr/bin/env bash
# CI for the OpenStack control plane (tests/openstack): installs its Debian packages, starts
# the plane (keystone, glance, placement, nova with the fake driver, neutron API, a private
# RabbitMQ), runs the `openstack` CLI smoke test as the member user, and stops the plane.
# Run from anywhere as root on a Debian bookworm machine. A few minutes once the packages are
# installed; the packages themselves take about 3 minutes the first time.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive
CP=tests/openstack/control-plane.sh
START=$SECONDS

bash "$CP" install
t=$SECONDS
# Stop what this run started, whatever happens (a plane that was already up is reused, and
# stopped too: CI leaves nothing running).
trap 'bash "$CP" stop || true' EXIT
bash "$CP" start
echo "openstack: control plane up in $((SECONDS - t))s"
bash "$CP" status
eval "$(bash "$CP" env)"
bash tests/openstack/smoke.sh
echo "openstack: all passed in $((SECONDS - START))s"
