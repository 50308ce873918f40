#!/usr/bin/env bash
# Builds the images berth's pods run and imports them into containerd
# (started by scripts/containerd.sh), since no registry is reachable:
#   localhost/pause:latest   the sandbox image (containerd's sandbox_image)
#   api-server:1.2.0, 1.3.0  the demo app, two versions for rollouts
#   busybox:latest           a shell, for exec and one-off pods
# The apps are linked statically so they need no base image; building again
# gives the same digests, so re-running imports nothing new.
# Honours CARGO_TARGET_DIR; BERTH_CONTAINERD_ADDRESS overrides the socket.
set -euo pipefail
cd "$(dirname "$0")/.."

ADDRESS=${BERTH_CONTAINERD_ADDRESS:-/run/berth/containerd.sock}
TARGET=x86_64-unknown-linux-gnu
TARGET_DIR=${CARGO_TARGET_DIR:-target}
case "$(uname -m)" in
  x86_64) ;;
  aarch64) TARGET=aarch64-unknown-linux-gnu ;;
  *) echo "images.sh: no static target known for $(uname -m)" >&2; exit 1 ;;
esac

# With an explicit --target, RUSTFLAGS reach only the target's crates, not
# build scripts and proc macros built for the host.
echo "images: building static pause and api-server ($TARGET)" >&2
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --target "$TARGET" -p pause -p api-server
echo "images: building berth" >&2
cargo build --locked -p berth

BIN="$TARGET_DIR/$TARGET/debug"
berth=("$TARGET_DIR/debug/berth" image build --import --containerd-address "$ADDRESS")

"${berth[@]}" --tag localhost/pause:latest --binary "$BIN/pause"
for version in 1.2.0 1.3.0; do
  "${berth[@]}" --tag "api-server:$version" --binary "$BIN/api-server" --busybox \
    --env "APP_VERSION=$version" --expose 8080/tcp
done
# As Docker Hub's busybox: no entrypoint, `sh` as the default command, so
# `kubectl run --image=busybox -- sh -c ...` runs what it names.
"${berth[@]}" --tag busybox:latest --busybox --cmd sh
echo "images: done" >&2
