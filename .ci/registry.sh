#!/usr/bin/env bash
# CI only: an image registry on this machine (Debian's docker-registry, distribution 2.8) at 127.0.0.1:5000,
# the stand-in for Minikube's registry addon or a kind local registry. The node's containerd pulls from
# localhost registries over plain HTTP, and Docker pushes to 127.0.0.0/8 without TLS, so neither needs config.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/guard.sh
source .ci/guard.sh
require_ci .ci/registry.sh "installs docker-registry and starts it as root" "CI=true bash .ci/registry.sh"
addr=${REGISTRY_ADDR:-127.0.0.1:5000}
# Root here; a user with sudo on GitHub's runners.
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
log=/var/log/ci-registry.log
[ "$(id -u)" -eq 0 ] || log=${RUNNER_TEMP:-/tmp}/ci-registry.log
if curl -fsS "http://$addr/v2/" >/dev/null 2>&1; then
  echo "registry: already serving on $addr"
  exit 0
fi
command -v docker-registry >/dev/null || {
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null 2>&1
}
# The package's own service may not run here (no systemd): start it in the background with its storage under
# /var/lib/docker-registry, listening on loopback only.
config=/var/tmp/ci-registry.yml
cat > "$config" <<YAML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: /var/lib/docker-registry}
  delete: {enabled: true}
http: {addr: $addr}
YAML
as_root mkdir -p /var/lib/docker-registry
(as_root setsid nohup docker-registry serve "$config" >"$log" 2>&1 &)
for _ in $(seq 30); do
  curl -fsS "http://$addr/v2/" >/dev/null 2>&1 && { echo "registry: ready on $addr"; exit 0; }
  sleep 0.5
done
echo "error: the registry did not start on $addr: see $log" >&2
exit 1
