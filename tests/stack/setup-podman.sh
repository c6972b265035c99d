#!/usr/bin/env bash
# What `make test-stack` needs on a Debian machine without Docker: podman with runc (crun fails here: "cgroups in
# hybrid mode not supported"), no default ulimits (else "setrlimit RLIMIT_NOFILE: Operation not permitted"), and
# mmdebstrap to make a Debian base image, since no image registry is reachable.
set -euo pipefail
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null; then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq podman buildah mmdebstrap runc uidmap slirp4netns \
    fuse-overlayfs >/dev/null
fi
conf=/etc/containers/containers.conf
if ! grep -q 'runtime = "runc"' "$conf" 2>/dev/null; then
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' | $sudo tee "$conf" >/dev/null
fi
