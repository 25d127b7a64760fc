#!/bin/sh
# Healthy when redis answers PING on REDIS_PORT (default 6379). Without the password
# the answer is NOAUTH, which still proves the server is up and serving.
set -eu
reply="$(redis-cli -p "${REDIS_PORT:-6379}" ping 2>&1 || true)"
case "$reply" in
  *PONG* | *NOAUTH*) exit 0 ;;
  *) echo "redis not answering: $reply" >&2; exit 1 ;;
esac
