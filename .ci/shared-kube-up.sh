#!/usr/bin/env bash
# Starts what is missing of ../shared's single-node Kubernetes and prints `export KUBECONFIG=...`: used by
# .ci/cluster/shared-kube.sh at the start of CI, and by the cluster tests to bring the API server back after
# stopping it on purpose (AUTOMATION_TEST_APISERVER_START).
set -euo pipefail
shared=${1:?usage: shared-kube-up.sh SHARED_DIR}
kube_env=$(bash "$shared/kube/up.sh")
# up.sh rewrites kube-proxy's config on every call, and a kube-proxy already running exits when that file
# changes (Services then stop routing): on a machine where the cluster was up, start it once more.
sleep 5
proxy_pid="${KUBE_HOME:-/var/tmp/kube-harness}/run/proxy.pid"
if ! kill -0 "$(cat "$proxy_pid" 2>/dev/null)" 2>/dev/null; then
  echo "kube-proxy exited after its config was rewritten: starting it again" >&2
  kube_env=$(bash "$shared/kube/up.sh")
fi
echo "$kube_env"
