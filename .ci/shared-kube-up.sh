#!/usr/bin/env bash
# Starts what is missing of ../shared's single-node Kubernetes and prints `export KUBECONFIG=...`: used by
# .ci/cluster/shared-kube.sh at the start of CI, and by the cluster tests to bring the API server back after
# stopping it on purpose (AUTOMATION_TEST_APISERVER_START).
set -euo pipefail
# shellcheck source=.ci/guard.sh
source "$(dirname "$0")/guard.sh"
require_ci .ci/shared-kube-up.sh "starts Kubernetes' daemons as root" "CI=true bash .ci/shared-kube-up.sh SHARED_DIR"
shared=${1:?usage: shared-kube-up.sh SHARED_DIR}
run_dir="${KUBE_HOME:-/var/tmp/kube-harness}/run"
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)

# Two ways up.sh reports "ready" while a part is down, both seen on CI machines: kube-proxy exits when up.sh
# rewrites its config under it (Services then stop routing), and after a machine restart the kubelet can
# start before containerd serves CRI and exit at once, while the node still shows the Ready status it
# posted before the restart. A part whose process is gone is started again by up.sh.
dead_parts() {
  local part
  for part in containerd kubelet proxy; do
    kill -0 "$(cat "$run_dir/$part.pid" 2>/dev/null)" 2>/dev/null || echo "$part"
  done
}
for attempt in 1 2 3; do
  kube_env=$(bash "$shared/kube/up.sh")
  sleep 5
  dead=$(dead_parts | tr '\n' ' ')
  [ -z "$dead" ] && break
  echo "kube-harness: ${dead}exited after start (attempt $attempt): starting again" >&2
done
[ -z "$dead" ] || { echo "error: ${dead}keeps exiting: see ${run_dir%/run}/logs/" >&2; exit 1; }

# Ready counts only with a node lease renewed after this start (the kubelet renews it every 10 s): a Ready
# status left from before a restart does not.
eval "$kube_env"
node_state() {
  local node
  node=$(kubectl get nodes -o jsonpath='{.items[0].metadata.name}' 2>/dev/null) || return 0
  echo "$(kubectl -n kube-node-lease get lease "$node" -o jsonpath='{.spec.renewTime}' 2>/dev/null)" \
    "$(kubectl get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)"
}
fresh_and_ready() { [[ "$1" == *" True" && ! "${1% *}" < "$started" ]]; }
for _ in $(seq 120); do
  state=$(node_state)
  fresh_and_ready "$state" && break
  sleep 1
done
fresh_and_ready "$state" || { echo "error: the node renewed no lease or is not Ready since $started (lease, Ready: $state)" >&2; exit 1; }
echo "$kube_env"
