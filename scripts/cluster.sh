#!/usr/bin/env bash
# Sets up a Debian machine, builds berth, and runs a three-member berth store
# on 127.0.0.1 (client ports 2379, 22379, 32379 as etcd's own Procfile uses).
# Data lives in ${BERTH_DATA:-./berth-data}; running this again resumes it.
# Ctrl-C stops all three members.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --locked --bin berth
berth="$CARGO_TARGET_DIR/debug/berth"
data="${BERTH_DATA:-$PWD/berth-data}"
mkdir -p "$data"

cluster="s1=http://127.0.0.1:2380,s2=http://127.0.0.1:22380,s3=http://127.0.0.1:32380"
pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM
for i in 1 2 3; do
  port=$(( i == 1 ? 2379 : i * 10000 + 2379 ))
  "$berth" store --name "s$i" --data-dir "$data/s$i" \
    --listen-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$((port + 1))" \
    --listen-metrics-urls "http://127.0.0.1:$((port + 2))" \
    --initial-cluster "$cluster" 2>"$data/s$i.log" &
  pids+=($!)
done

endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379
for _ in $(seq 1 100); do
  ETCDCTL_API=3 etcdctl --endpoints="$endpoints" endpoint status >/dev/null 2>&1 && break
  sleep 0.2
done
ETCDCTL_API=3 etcdctl --endpoints="$endpoints" -w table endpoint status
cat <<TXT

berth store is running: three members, logs in $data/s{1,2,3}.log.
Try:
  export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=$endpoints
  etcdctl put greeting hello && etcdctl get greeting
  etcdctl member list -w table
  curl -s 127.0.0.1:2381/metrics | grep etcd_server
Ctrl-C stops the cluster.
TXT
wait
