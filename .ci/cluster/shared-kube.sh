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
  local kube_env
  kube_env=$(bash .ci/shared-kube-up.sh "$SHARED")
  eval "$kube_env"
  export KUBECONFIG
}

# The cluster tests' fault injection: the API server stopped by its pid file, then started again by up.sh.
export AUTOMATION_TEST_APISERVER_STOP="bash $PWD/.ci/shared-kube-apiserver.sh stop $SHARED"
export AUTOMATION_TEST_APISERVER_START="bash $PWD/.ci/shared-kube-apiserver.sh start $SHARED"

cluster_registry_title="image registry on 127.0.0.1:5000 (worker images delivered by layers)"
cluster_registry() {
  bash .ci/registry.sh
}

# An image listed by containerd may still not start (an import cut short on a machine used before), and one built
# before the Composer rehearsal ran Celery lacks its provider: each one is proven by a pod that imports what the
# cluster tests need, built again when that fails, and pinned so the kubelet never collects it.
# EXTRA_PIP (optional): packages beyond Airflow's celery extra (the rehearsed Composer build's provider pins).
AIRFLOW_IMAGE_CHECK="from airflow.providers.celery.executors.celery_executor import CeleryExecutor; import redis, airflow.providers.cncf.kubernetes"
cluster_airflow_image() {
  local ref=docker.io/apache/airflow:$1 extra="apache-airflow[celery]==$1 ${EXTRA_PIP:-}"
  EXTRA_PIP="$extra" bash "$SHARED/kube/airflow-image.sh" "$1"
  if ! image_runs "$ref" python -c "$AIRFLOW_IMAGE_CHECK"; then
    echo "$ref is listed by containerd but does not run, or lacks the Celery provider: building it again"
    # The builder keeps its root folder and skips pip while the venv holds this Airflow: drop the venv.
    rm -rf "${KUBE_HOME:-/var/tmp/kube-harness}/airflow-image/root-$1/opt/venv"
    FORCE=1 EXTRA_PIP="$extra" bash "$SHARED/kube/airflow-image.sh" "$1"
    image_runs "$ref" python -c "$AIRFLOW_IMAGE_CHECK" \
      || { echo "error: $ref does not run on the node even after a new build" >&2; return 1; }
  fi
  ctr --address "${KUBE_HOME:-/var/tmp/kube-harness}/run/containerd.sock" -n k8s.io images label "$ref" \
    io.cri-containerd.pinned=pinned >/dev/null
}

image_runs() {  # IMAGE COMMAND...
  local pod phase image=$1
  shift
  pod="ci-image-check-$(date +%s%N | tail -c 9)"
  kubectl -n default run "$pod" --image="$image" --image-pull-policy=IfNotPresent --restart=Never \
    --overrides='{"spec": {"terminationGracePeriodSeconds": 0}}' --command -- "$@" >/dev/null
  for _ in $(seq 90); do
    phase=$(kubectl -n default get pod "$pod" -o jsonpath='{.status.phase}' 2>/dev/null || true)
    case "$phase" in Succeeded|Failed) break ;; esac
    sleep 1
  done
  if [ "$phase" != Succeeded ]; then
    kubectl -n default logs "$pod" 2>&1 | tail -3 >&2 || true
    kubectl -n default describe pod "$pod" 2>&1 | sed -n '/^Events:/,$p' >&2 || true
  fi
  kubectl -n default delete pod "$pod" --wait=false >/dev/null 2>&1 || true
  [ "$phase" = Succeeded ]
}
