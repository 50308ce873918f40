# Sourced by compare-etcd.sh and failover.sh: builds the binaries and starts,
# checks and stops three-member etcd and berth clusters on loopback with the
# same settings (fsync on, heartbeat 100 ms, election 1000 ms).
#   etcd:  clients 23791-23793, peers 23891-23893
#   berth: clients 33791-33793, peers 33891-33893

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

work=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
declare -A member_pid=()
stop_all() {
  local pid
  for pid in "${member_pid[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
cleanup() { stop_all; rm -rf "$work"; }
trap cleanup EXIT INT TERM

base_of() { if [[ $1 == etcd ]]; then echo 23790; else echo 33790; fi; }
endpoint() { echo "127.0.0.1:$(($(base_of "$1") + $2))"; }
endpoints() { echo "$(endpoint "$1" 1),$(endpoint "$1" 2),$(endpoint "$1" 3)"; }
initial_cluster() {
  local target=$1 out="" i
  for i in 1 2 3; do
    out+="${out:+,}${target:0:1}$i=http://127.0.0.1:$(($(base_of "$target") + 100 + i))"
  done
  echo "$out"
}

# start_member TARGET I: starts (or restarts, same data) member I.
start_member() {
  local target=$1 i=$2 base name client peer
  base=$(base_of "$target")
  name="${target:0:1}$i"
  client="http://127.0.0.1:$((base + i))"
  peer="http://127.0.0.1:$((base + 100 + i))"
  if [[ $target == etcd ]]; then
    local state=new
    [[ -d "$work/$name" ]] && state=existing
    etcd --name "$name" --data-dir "$work/$name" \
      --listen-client-urls "$client" --advertise-client-urls "$client" \
      --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
      --initial-cluster "$(initial_cluster etcd)" --initial-cluster-state "$state" \
      --heartbeat-interval 100 --election-timeout 1000 \
      >>"$work/$name.log" 2>&1 &
  else
    "$berth" store --name "$name" --data-dir "$work/$name" \
      --listen-client-urls "$client" --listen-peer-urls "$peer" \
      --initial-cluster "$(initial_cluster berth)" \
      --heartbeat-interval 100 --election-timeout 1000 \
      >>"$work/$name.log" 2>&1 &
  fi
  member_pid[$target$i]=$!
}

start_cluster() {
  local i
  for i in 1 2 3; do start_member "$1" "$i"; done
}

# healthy TARGET: until every member answers a write through itself.
healthy() {
  local target=$1 i n
  for i in 1 2 3; do
    for n in $(seq 1 300); do
      if ETCDCTL_API=3 etcdctl --endpoints="$(endpoint "$target" "$i")" --command-timeout=2s \
        put bench/ready 1 >/dev/null 2>&1; then break; fi
      if [[ $n == 300 ]]; then
        echo "$target member $i is not healthy; logs in $work" >&2
        return 1
      fi
      sleep 0.2
    done
  done
}

# leader TARGET: the number (1-3) of the member that leads.
leader() {
  local target=$1 status
  status=$(ETCDCTL_API=3 etcdctl --endpoints="$(endpoints "$target")" endpoint status -w json)
  python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
lead = rows[0]["Status"]["leader"]
for i, r in enumerate(rows, 1):
    if r["Status"]["header"]["member_id"] == lead:
        print(i)
' "$status"
}
