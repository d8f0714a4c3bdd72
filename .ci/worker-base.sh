#!/usr/bin/env bash
# The worker images' base where no registry is reachable (this repository's CI machine): Debian bookworm with
# Python, made by debootstrap and imported into Docker as IMAGE (default local/worker-base:bookworm-py311).
# Does nothing when Docker already has it. Root (debootstrap). tests/conftest.py's base_image fixture calls it too.
set -euo pipefail
image=${1:-local/worker-base:bookworm-py311}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "worker base: $image already in Docker"
  exit 0
fi
root=$(mktemp -d /tmp/worker-base-XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$root/fs" \
  >"$root/debootstrap.log" 2>&1 || { tail -5 "$root/debootstrap.log" >&2; exit 1; }
tar -C "$root/fs" -c . | docker import - "$image" >/dev/null
echo "worker base: $image made (debootstrap bookworm)"
