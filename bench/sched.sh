#!/usr/bin/env bash
# Scheduling throughput through the API: a scratch single-member berth server
# (store, API server and scheduler; controllers off, so no node lifecycle
# taints the simulated nodes), N nodes and M pods created over its API, the
# time until every pod is bound. Then the same scheduler in process, for the
# cost of the algorithm alone. Everything it starts it stops.
#
#   bench/sched.sh [NODES] [PODS]     (defaults 5000 10000)
#
# BERTH and BERTH_BENCH name the binaries (default: release builds in
# $CARGO_TARGET_DIR or target/).
set -euo pipefail
cd "$(dirname "$0")/.."
nodes=${1:-5000}
pods=${2:-10000}
target=${CARGO_TARGET_DIR:-target}
berth=${BERTH:-$target/release/berth}
bench=${BERTH_BENCH:-$target/release/berth-bench}
for bin in "$berth" "$bench"; do
  [ -x "$bin" ] || { echo "sched.sh: $bin missing: cargo build --release --bin berth --bin berth-bench" >&2; exit 1; }
done
dir=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
client=$(port); peer=$(port); api=$(port); metrics=$(port)
"$berth" server --name m0 --data-dir "$dir/m0" \
  --listen-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
  --api-listen "127.0.0.1:$api" --listen-metrics-urls "http://127.0.0.1:$metrics" \
  --controllers= 2>"$dir/server.log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$metrics/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "through the API (single member, fsync on):"
"$bench" sched --api "http://127.0.0.1:$api" --nodes "$nodes" --pods "$pods"
echo "in process:"
"$bench" sched --nodes "$nodes" --pods "$pods"
