#!/bin/sh
# rayswarm/redis entrypoint: `<config path> [options]` or `--option …` → redis-server;
# `redis-server …` as with the official image; anything else runs as given.
set -eu
case "${1:-}" in
  "") set -- redis-server /etc/redis/default.conf ;;
  -* | */* | *.conf) set -- redis-server "$@" ;;
esac
exec "$@"
