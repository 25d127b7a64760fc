#!/usr/bin/env bash
# CI for the OpenStack control plane (tests/openstack): installs its Debian packages, starts
# the plane (keystone, glance, placement, nova with the fake driver, neutron API, a private
# RabbitMQ), runs the `openstack` CLI smoke test as the member user, then the program with the
# real engine (tests/openstack/pulumi-infrastructure.sh: up of a dev-like stack with
# rayswarm:deploy infrastructure, API checks, no-change preview, scale-out, destroy), and
# stops the plane, whatever happened. Run from anywhere as root on a Debian bookworm machine
# with the engine installed (scripts/install-pulumi.sh) and `npm ci` done. About 6 minutes once
# the packages are installed; the packages themselves take about 3 minutes the first time.
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
t=$SECONDS
bash tests/openstack/smoke.sh
echo "openstack: smoke test in $((SECONDS - t))s"
t=$SECONDS
bash tests/openstack/pulumi-infrastructure.sh
echo "openstack: pulumi test in $((SECONDS - t))s"
echo "openstack: all passed in $((SECONDS - START))s"
