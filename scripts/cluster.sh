#!/usr/bin/env bash
# Starts a local Redis Cluster of three masters on ports 7001 to 7003 (Debian's redis-server),
# unless it answers already. Nothing is kept on disk but the cluster's node files, under
# ${PORTCULLIS_CLUSTER_DIR:-/tmp/portcullis-cluster}.
#
#   scripts/cluster.sh          # start (idempotent)
#   scripts/cluster.sh stop
set -euo pipefail
dir=${PORTCULLIS_CLUSTER_DIR:-/tmp/portcullis-cluster}
ports=(7001 7002 7003)

if [ "${1:-}" = stop ]; then
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
  exit 0
fi

command -v redis-server >/dev/null || { echo "cluster.sh: needs redis-server (apt-get install redis-server)" >&2; exit 1; }

ok() { [ "$(redis-cli -p 7001 cluster info 2>/dev/null | tr -d '\r' | awk -F: '/^cluster_state/ {print $2}')" = ok ]; }
if ok; then exit 0; fi

for p in "${ports[@]}"; do
  redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
done
rm -rf "$dir"
for p in "${ports[@]}"; do
  mkdir -p "$dir/$p"
  redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
    --cluster-config-file "$dir/$p/nodes.conf" --dir "$dir/$p" --save "" --appendonly no \
    --daemonize yes --logfile "$dir/$p/redis.log"
done
for p in "${ports[@]}"; do
  for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
done
redis-cli --cluster create 127.0.0.1:7001 127.0.0.1:7002 127.0.0.1:7003 \
  --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 1 100); do ok && exit 0; sleep 0.1; done
echo "cluster.sh: the cluster did not come up; see $dir/*/redis.log" >&2
exit 1
