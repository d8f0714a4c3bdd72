# shellcheck shell=bash disable=SC2034  # the variables are read by .ci/steps.sh, which sources this
# Sourced by .ci/steps.sh in the GitHub workflow's `local` job (ubuntu-24.04: 4 CPUs, 16 GB, a user with sudo,
# registries reachable). Minikube is started by the local target's own provider code, sized for the runner by
# .ci/minikube.yaml; the tests then reach that cluster as target `ci` of the same overlay, an existing kube
# context, so that `down --purge` deletes the namespace and keeps the cluster the tests hold a client to.
CI_SETTINGS="$PWD/.ci/minikube.yaml"
CI_CHART_DIR="$PWD/.state/ci-chart/airflow"
# `minikube start` writes its context here; target ci of .ci/minikube.yaml names this file.
export KUBECONFIG="$PWD/.state/ci-minikube.kubeconfig"
# A registry is reachable: the worker images' base is pulled, not made by debootstrap as root.
export WORKER_BASE_IMAGE=${WORKER_BASE_IMAGE:-python:3.12-slim}

cluster_tools_title="minikube, kubectl and helm: nox -s tools (pinned, sha256-checked)"
cluster_tools() {
  nox -s tools
  export PATH="$PWD/.tools/bin:$PATH"
  # The workflow's later steps (the state on failure) use them too.
  if [ -n "${GITHUB_PATH:-}" ]; then echo "$PWD/.tools/bin" >> "$GITHUB_PATH"; fi
  # The pinned chart, unpacked: the render tests and the targets matrix validate its output offline.
  local chart
  chart=$(python3 -c 'import sys; sys.path.insert(0, "."); from automation.core.versions import VERSIONS; print(VERSIONS.chart)')
  if [ ! -d "$CI_CHART_DIR" ]; then
    helm pull airflow --repo https://airflow.apache.org --version "$chart" --untar -d "$(dirname "$CI_CHART_DIR")"
  fi
}

cluster_start_title="Minikube: the local target's prerequisites, cluster and mounts (sized by .ci/minikube.yaml)"
cluster_start() {
  mkdir -p .state && chmod 700 .state
  AUTOMATION_SETTINGS="$CI_SETTINGS" .nox/tools/bin/python - <<'PY'
"""What `up --target local` does first: prerequisites (which binary, from where), resources, cluster, mounts."""
from automation.core import prereqs
from automation.core.runner import Runner
from automation.providers import provider_for
from automation.settings import load_target

runner = Runner()
provider = provider_for(runner, load_target("local"))
prereqs.check(runner, provider.binaries)
provider.check_resources()
provider.ensure_cluster()
provider.ensure_mounts()
PY
  # Pods reach this host at the gateway of the profile's Docker network, NATed to the node's address there.
  local profile network
  profile=$(AUTOMATION_SETTINGS="$CI_SETTINGS" .nox/tools/bin/python -c \
    'from automation.settings import load_target; print(load_target("local").minikube.profile)')
  network=$(docker network inspect "$profile" --format '{{(index .IPAM.Config 0).Gateway}} {{(index .IPAM.Config 0).Subnet}}')
  export CI_HOST_FROM_PODS=${network% *}
  export CI_POD_NETWORKS="10.244.0.0/16 ${network#* }"
  echo "minikube profile $profile: this host is $CI_HOST_FROM_PODS for its pods (networks $CI_POD_NETWORKS)"
}

# The cluster tests' fault injection: the node's kubelet stopped first (it would restart the API server's static
# pod at once), then the API server; starting the kubelet brings it back. Not run here: GitHub only.
export AUTOMATION_TEST_APISERVER_STOP="minikube -p airflow ssh -- 'sudo systemctl stop kubelet; sudo pkill -f kube-apiserver'"
export AUTOMATION_TEST_APISERVER_START="minikube -p airflow ssh -- 'sudo systemctl start kubelet'"

# Minikube's registry addon: the node pulls localhost:5000; this runner pushes to 127.0.0.1:5000 through a
# port-forward to the addon's Service (Docker pushes to 127.0.0.0/8 over plain HTTP without configuration).
cluster_registry_title="image registry: Minikube's registry addon, pushed to through 127.0.0.1:5000"
cluster_registry() {
  local profile
  profile=$(AUTOMATION_SETTINGS="$CI_SETTINGS" .nox/tools/bin/python -c \
    'from automation.settings import load_target; print(load_target("local").minikube.profile)')
  minikube addons enable registry -p "$profile"
  kubectl -n kube-system rollout status deployment/registry --timeout=180s
  nohup kubectl -n kube-system port-forward --address 127.0.0.1 service/registry 5000:80 \
    >/tmp/registry-port-forward.log 2>&1 &
  ci_started $! "port-forward --address 127.0.0.1 service/registry"
  for _ in $(seq 30); do curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && return 0; sleep 1; done
  echo "error: the registry addon does not answer on 127.0.0.1:5000: see /tmp/registry-port-forward.log" >&2
  return 1
}

# The node pulls the chart's images (and the rehearsed Composer version's) from their registry itself.
cluster_airflow_image() {
  echo "Airflow $1: pulled by the Minikube node when a pod needs it"
}
