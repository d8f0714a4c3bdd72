# shellcheck shell=bash disable=SC2034  # the variables are read by .ci/steps.sh, which sources this
# Sourced by .ci/steps.sh on this repository's CI machine: the single-node Kubernetes of ../shared/kube, its
# helm and kubectl, its Airflow images and the chart copy. Only this file and .ci/targets.yaml know ../shared.
SHARED=$(cd .. && pwd)/shared
[ -d "$SHARED/kube" ] || { echo "error: $SHARED/kube not found: CI expects shared/ beside the clone"; exit 1; }
CI_SETTINGS="$PWD/.ci/targets.yaml"
CI_CHART_DIR="$SHARED/airflow-chart/chart"
# Pods reach this host at the pod network's gateway.
export CI_HOST_FROM_PODS=10.244.0.1 CI_POD_NETWORKS=10.244.0.0/16

cluster_tools_title="helm and kubectl"
cluster_tools() {
  if ! { command -v helm >/dev/null && command -v kubectl >/dev/null; }; then
    bash "$SHARED/kube/tools.sh" /usr/local/bin
  fi
}

cluster_start_title="Kubernetes (single node): ../shared/kube/up.sh"
cluster_start() {
  local kube_env proxy_pid
  kube_env=$(bash "$SHARED/kube/up.sh")
  eval "$kube_env"
  # up.sh rewrites kube-proxy's config on every call, and a kube-proxy already running exits when that file
  # changes (Services then stop routing): on a machine where the cluster was up, start it once more.
  sleep 5
  proxy_pid="${KUBE_HOME:-/var/tmp/kube-harness}/run/proxy.pid"
  if ! kill -0 "$(cat "$proxy_pid" 2>/dev/null)" 2>/dev/null; then
    echo "kube-proxy exited after its config was rewritten: starting it again"
    kube_env=$(bash "$SHARED/kube/up.sh")
    eval "$kube_env"
  fi
  export KUBECONFIG
}

cluster_registry_title="image registry on 127.0.0.1:5000 (worker images delivered by layers)"
cluster_registry() {
  bash .ci/registry.sh
}

cluster_airflow_image() {
  bash "$SHARED/kube/airflow-image.sh" "$1"
}
