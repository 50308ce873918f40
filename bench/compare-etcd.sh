#!/usr/bin/env bash
# Side by side on this machine: a three-member etcd and a three-member berth
# store on loopback, fsync on, heartbeat 100 ms and election 1000 ms on
# both. Runs each workload against both in alternation (etcd, berth, etcd,
# berth, ...), PAIRS times, then prints the medians and berth/etcd ratios.
# Installs Debian's etcd-server if etcd is missing. Stops all it starts.
#
#   bench/compare-etcd.sh                       # defaults below
#   PAIRS=5 DURATION=30 WORKLOADS="put get-l" bench/compare-etcd.sh
#   BERTH=path/to/berth BENCH=path/to/berth-bench bench/compare-etcd.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PAIRS=${PAIRS:-3}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
WORKLOADS=${WORKLOADS:-"put get-l get-s txn range watch mixed"}
TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/berth/release-target}

if ! command -v etcd >/dev/null; then
  apt-get update -qq && apt-get install -y -qq etcd-server etcd-client >/dev/null
fi
# BERTH and BENCH name prebuilt binaries; otherwise release builds are made.
if [[ -z "${BERTH:-}" || -z "${BENCH:-}" ]]; then
  CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked --bin berth -p berth >/dev/null
  CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --locked -p berth-bench >/dev/null
fi
berth=${BERTH:-$TARGET_DIR/release/berth}
bench=${BENCH:-$TARGET_DIR/release/berth-bench}

work=$(mktemp -d /var/tmp/compare-etcd.XXXXXX)
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
cleanup() { stop; rm -rf "$work"; }
trap cleanup EXIT INT TERM

# Client ports: etcd 23791..23793, berth 33791..33793; peers at +100.
endpoints() { echo "127.0.0.1:$(($1 + 1)),127.0.0.1:$(($1 + 2)),127.0.0.1:$(($1 + 3))"; }
cluster() {
  local names=$1 base=$2 out="" i
  for i in 1 2 3; do out+="${out:+,}$names$i=http://127.0.0.1:$((base + 100 + i))"; done
  echo "$out"
}

start_etcd() {
  local i
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$work/e$i" \
      --listen-client-urls "http://127.0.0.1:$((23790 + i))" \
      --advertise-client-urls "http://127.0.0.1:$((23790 + i))" \
      --listen-peer-urls "http://127.0.0.1:$((23890 + i))" \
      --initial-advertise-peer-urls "http://127.0.0.1:$((23890 + i))" \
      --initial-cluster "$(cluster e 23790)" --initial-cluster-state new \
      --heartbeat-interval 100 --election-timeout 1000 \
      >"$work/e$i.log" 2>&1 &
    pids+=($!)
  done
}

start_berth() {
  local i
  for i in 1 2 3; do
    "$berth" store --name "b$i" --data-dir "$work/b$i" \
      --listen-client-urls "http://127.0.0.1:$((33790 + i))" \
      --listen-peer-urls "http://127.0.0.1:$((33890 + i))" \
      --initial-cluster "$(cluster b 33790)" \
      --heartbeat-interval 100 --election-timeout 1000 \
      >"$work/b$i.log" 2>&1 &
    pids+=($!)
  done
}

healthy() {
  local eps=$1 n
  for n in $(seq 1 150); do
    if ETCDCTL_API=3 etcdctl --endpoints="$eps" put compare/ready 1 >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "cluster at $eps did not become healthy; logs in $work" >&2
  return 1
}

start_etcd
start_berth
healthy "$(endpoints 23790)"
healthy "$(endpoints 33790)"

results="$work/results.jsonl"
run() {
  local target=$1 base=$2 name=$3 workload consistency=l
  case $name in
    get-l) workload=get ;;
    get-s) workload=get consistency=s ;;
    *) workload=$name ;;
  esac
  "$bench" store "$workload" --name "$name" --target "$target" \
    --endpoints "$(endpoints "$base")" --clients "$CLIENTS" --conns 4 \
    --duration "$DURATION" --consistency "$consistency" --json >>"$results"
}

for pair in $(seq 1 "$PAIRS"); do
  for w in $WORKLOADS; do
    echo "pair $pair/$PAIRS: $w" >&2
    run etcd 23790 "$w"
    run berth 33790 "$w"
  done
done

echo
echo "etcd $(etcd --version | head -1 | awk '{print $3}') vs berth, three members each on loopback, $CLIENTS clients, ${DURATION}s per run, medians of $PAIRS pairs:"
"$bench" compare "$results" --baseline etcd --other berth
