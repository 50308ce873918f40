#!/usr/bin/env bash
# Installs what building and testing berth needs on Debian: the C toolchain and
# libclang for RocksDB's bindings, protoc for the CRI bindings, etcdctl and kubectl for the client tests, and Rust if it
# is missing. Safe to run again; it installs only what is absent.
set -euo pipefail

need_apt=()
for pkg in build-essential libclang-dev clang etcd-client protobuf-compiler; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# The API server's tests drive stock kubectl; Debian's own is
# kubernetes-client (older than the kubectl these machines carry, but it
# speaks the same REST API).
if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: installing kubernetes-client (kubectl)" >&2
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq kubernetes-client >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    echo "setup: installing Rust with rustup" >&2
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  }
fi

# One build cache outside the checkout: RocksDB takes ~20 minutes to build
# from source on two cores, so every clone shares the compiled result.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if mkdir -p /var/cache/berth/target 2>/dev/null && [ -w /var/cache/berth/target ]; then
    export CARGO_TARGET_DIR=/var/cache/berth/target
  else
    export CARGO_TARGET_DIR="$HOME/.cache/berth/target"
  fi
fi
