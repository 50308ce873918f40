#!/usr/bin/env bash
# Starts or stops the containerd that berth's agent and tests use:
#   scripts/containerd.sh start   install if missing, configure, start, wait for the socket
#   scripts/containerd.sh stop    stop it and wait until it is gone
# Both are idempotent. Needs root (containerd runs containers with runc).
#
# It is a private containerd: its own root, state, socket and CNI config
# under /var/lib/berth, /run/berth and /etc/berth, so it never meets a
# system containerd or Docker on the same machine.
#
# What the CRI plugin needs on these machines, beyond the package defaults:
# - restrict_oom_score_adj = true: root here lacks CAP_SYS_RESOURCE, and
#   without it every RunPodSandbox fails in runc ("can't get final child's
#   PID from pipe: EOF", from nsexec failing to write oom_score_adj).
# - sandbox_image names a locally imported pause image (scripts/images.sh
#   builds localhost/pause:latest): nothing can be pulled here.
# - a CNI conflist in conf_dir: without one, RunPodSandbox fails with
#   "cni config load failed: no network config found".
set -euo pipefail

ROOT_DIR=/var/lib/berth/containerd
STATE_DIR=/run/berth/containerd
SOCKET=/run/berth/containerd.sock
PIDFILE=/run/berth/containerd.pid
LOG=/var/log/berth/containerd.log
CONFIG=/etc/berth/containerd.toml
CNI_BIN=/usr/lib/cni
CNI_CONF_DIR=/etc/berth/cni
# The pod network of this node: bridge berth0 with the gateway at .1.
POD_SUBNET=${BERTH_POD_SUBNET:-10.244.0.0/24}

sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)

log() { echo "containerd.sh: $*" >&2; }

install_packages() {
  local need=() pkg
  for pkg in containerd runc containernetworking-plugins busybox-static; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
  fi
}

write_config() {
  "${sudo_cmd[@]}" mkdir -p "$(dirname "$CONFIG")" "$CNI_CONF_DIR" "$ROOT_DIR" "$STATE_DIR" "$(dirname "$LOG")"
  "${sudo_cmd[@]}" tee "$CONFIG" >/dev/null <<TOML
# Written by scripts/containerd.sh; changes are overwritten on start.
version = 2
root = "$ROOT_DIR"
state = "$STATE_DIR"

[grpc]
  address = "$SOCKET"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/pause:latest"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1
TOML
  "${sudo_cmd[@]}" tee "$CNI_CONF_DIR/10-berth.conflist" >/dev/null <<JSON
{
  "cniVersion": "1.0.0",
  "name": "berth",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "berth0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_SUBNET" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "/var/lib/berth/cni/networks"
      }
    },
    {
      "type": "portmap",
      "capabilities": { "portMappings": true }
    }
  ]
}
JSON
}

# Whether containerd answers on the socket.
answers() {
  [ -S "$SOCKET" ] && timeout 5 ctr --address "$SOCKET" version >/dev/null 2>&1
}

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = containerd ] || return 1
  echo "$pid"
}

# Waits up to $1 tenths of a second for containerd to answer; fails early
# if the process in the pidfile is gone.
wait_until_answers() {
  local i
  for i in $(seq 1 "$1"); do
    answers && return 0
    running_pid >/dev/null || return 1
    sleep 0.1
  done
  return 1
}

start() {
  install_packages
  if answers; then
    log "already running on $SOCKET"
    return 0
  fi
  # Started but still booting (its metadata database can take seconds to
  # open on a busy disk): wait for it rather than start a second daemon
  # that would block on the same database lock.
  if running_pid >/dev/null; then
    log "containerd (pid $(cat "$PIDFILE")) is starting; waiting for it"
    if wait_until_answers 300; then
      log "ready on $SOCKET"
      return 0
    fi
    log "containerd (pid $(cat "$PIDFILE")) does not answer; restarting it"
    stop
  fi
  write_config
  # A stale socket from a killed run would make the wait below pass early.
  "${sudo_cmd[@]}" rm -f "$SOCKET"
  log "starting containerd (log $LOG)"
  # fd 9 (the lock below) is closed for the daemon: holding it, containerd
  # would block every later start or stop.
  "${sudo_cmd[@]}" bash -c "setsid containerd --config '$CONFIG' >>'$LOG' 2>&1 </dev/null 9>&- & echo \$! >'$PIDFILE'"
  if wait_until_answers 300; then
    log "ready on $SOCKET (pid $(cat "$PIDFILE"))"
    return 0
  fi
  if running_pid >/dev/null; then
    log "containerd did not answer on $SOCKET within 30 s; last lines of $LOG:"
  else
    log "containerd exited; last lines of $LOG:"
  fi
  tail -n 20 "$LOG" >&2
  return 1
}

stop() {
  local pid i
  if ! pid=$(running_pid); then
    log "not running"
    "${sudo_cmd[@]}" rm -f "$PIDFILE"
    return 0
  fi
  # Pods' shims outlive containerd by design (containerd reconnects to them
  # on its next start); only the daemon is stopped here.
  "${sudo_cmd[@]}" kill -TERM "$pid"
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "containerd (pid $pid) ignored SIGTERM for 10 s; killing it"
    "${sudo_cmd[@]}" kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  "${sudo_cmd[@]}" rm -f "$PIDFILE"
  log "stopped"
}

# One start or stop at a time: two callers racing would start two daemons
# on one root.
"${sudo_cmd[@]}" mkdir -p "$(dirname "$PIDFILE")"
exec 9>"$(dirname "$PIDFILE")/containerd.lock"
flock 9

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
