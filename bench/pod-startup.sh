#!/usr/bin/env bash
# Pod startup latency on a real node: a scratch single-member berth server
# (store, API server, scheduler, controllers) and a berth agent on the CRI
# runtime (containerd from scripts/containerd.sh, images from
# scripts/images.sh), then `berth-bench pod-startup`: creation to Ready,
# image present, one pod after another. Everything it starts it stops.
# Needs root.
#
#   bench/pod-startup.sh [PODS]     (default 50)
#
# BERTH and BERTH_BENCH name the binaries (default: $CARGO_TARGET_DIR or
# target/, release if built, else debug).
set -euo pipefail
cd "$(dirname "$0")/.."
pods=${1:-50}
target=${CARGO_TARGET_DIR:-target}
pick() { if [ -x "$target/release/$1" ]; then echo "$target/release/$1"; else echo "$target/debug/$1"; fi; }
berth=${BERTH:-$(pick berth)}
bench=${BERTH_BENCH:-$(pick berth-bench)}
for bin in "$berth" "$bench"; do
  [ -x "$bin" ] || { echo "pod-startup.sh: $bin missing: cargo build --bin berth --bin berth-bench" >&2; exit 1; }
done
[ -S /run/berth/containerd.sock ] || { echo "pod-startup.sh: no containerd: scripts/containerd.sh start && scripts/images.sh" >&2; exit 1; }
dir=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
client=$(port); peer=$(port); api=$(port); metrics=$(port)
"$berth" server --name m0 --data-dir "$dir/m0" \
  --listen-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
  --api-listen "127.0.0.1:$api" --listen-metrics-urls "http://127.0.0.1:$metrics" \
  2>"$dir/server.log" &
server=$!
"$berth" agent --api "http://127.0.0.1:$api" --runtime cri --node-name bench-node \
  --root-dir "$dir/agent" --log-dir "$dir/logs" 2>"$dir/agent.log" &
agent=$!
cleanup() {
  kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
for _ in $(seq 300); do
  curl -sf "http://127.0.0.1:$metrics/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
"$bench" pod-startup --api "http://127.0.0.1:$api" --pods "$pods"
