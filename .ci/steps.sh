#!/usr/bin/env bash
# The CI run, one script for both worlds: this repository's CI machine (`bash .ci/run`, cluster shared-kube)
# and GitHub's ubuntu-24.04 runners (.github/workflows/ci.yml, job `local`, cluster minikube). Every step and
# its order is this script's; what differs with the cluster (its client tools, starting it, the Airflow images
# it needs, the settings overlay naming it, the address pods reach this host at) comes from
# .ci/cluster/CLUSTER.sh. Installs what the tests need, then runs `nox -s lint`, `nox -s docs` and
# `nox -s tests` (cluster tests included) and the targets matrix.
# Usage: bash .ci/steps.sh shared-kube|minikube [--change-this-machine]. Runs as root or as a user with sudo.
# It changes the machine (system packages, dockerd, iptables, PostgreSQL opened to the pod networks and its
# database airflow dropped, a registry): it runs where CI=true, or with --change-this-machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cluster=${1:-}
if [ -z "$cluster" ] || [ ! -f ".ci/cluster/$cluster.sh" ]; then
  known=(.ci/cluster/*.sh)
  known=("${known[@]#.ci/cluster/}")
  echo "error: name the cluster: bash .ci/steps.sh CLUSTER, CLUSTER one of: ${known[*]%.sh}" >&2
  exit 2
fi
# shellcheck source=.ci/guard.sh
source .ci/guard.sh
case "${2:-}" in
  "") ;;
  --change-this-machine) export CI=true ;;
  *) echo "error: unknown option $2: the only one is --change-this-machine" >&2; exit 2 ;;
esac
require_ci .ci/steps.sh "installs system packages, starts dockerd and a registry, adds iptables rules, opens \
PostgreSQL to the pod networks and drops its database airflow" "bash .ci/steps.sh $cluster --change-this-machine"
# Every script and test below sees a CI run (.ci/postgres.sh and .ci/registry.sh ask for it too).
export CI=true
# What this clone's earlier runs left running, by recorded pid: before this run starts its own.
ci_stop_leftovers
t0=$SECONDS
step() { echo "== [ci $((SECONDS - t0))s] $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
# Defines cluster_tools, cluster_start, cluster_registry, cluster_airflow_image, their titles, CI_SETTINGS and CI_CHART_DIR.
# shellcheck source=.ci/cluster/shared-kube.sh
source ".ci/cluster/$cluster.sh"

step "python tools (nox, uv)"
python3 -m pip install -q --disable-pip-version-check nox uv 2>&1 | grep -v "^WARNING: Running pip as" || true

step "system packages (docker, postgresql, debootstrap, chromium)"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
# The browser tests drive the distribution's Chromium, or the Chrome GitHub's runners carry (tests/browser.py):
# nothing is downloaded at run time.
command -v chromium >/dev/null || command -v google-chrome >/dev/null || need+=(chromium)
# debootstrap makes the worker images' base where no registry is reachable (tests/conftest.py base_image).
if [ -z "${WORKER_BASE_IMAGE:-}" ]; then command -v debootstrap >/dev/null || need+=(debootstrap); fi
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

step "$cluster_tools_title"
cluster_tools

step "$cluster_start_title"
cluster_start

step "Docker engine"
if ! docker info >/dev/null 2>&1; then
  (as_root nohup dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null
fi
# A Docker engine that enabled IP forwarding itself (started before the cluster) set iptables' FORWARD policy to
# DROP, which cuts pods off from Services on this host's bridge (task pods then time out on the API server).
for net in ${CI_POD_NETWORKS:-}; do
  for dir in -s -d; do
    as_root iptables -C FORWARD "$dir" "$net" -j ACCEPT 2>/dev/null || as_root iptables -I FORWARD "$dir" "$net" -j ACCEPT
  done
done

step "PostgreSQL (metadata DB and the database example)"
bash .ci/postgres.sh

step "$cluster_registry_title"
cluster_registry

AIRFLOW_VERSION=$(python3 -c 'import sys; sys.path.insert(0, "."); from automation.core.versions import VERSIONS; print(VERSIONS.airflow)')
# The upgrade cluster test starts an environment at the pin before this one and moves it to the pin.
AIRFLOW_PREVIOUS=$(python3 -c 'import sys; sys.path.insert(0, "."); from automation.core.versions import VERSIONS; print(VERSIONS.airflow_previous)')
# The Composer rehearsal runs the Airflow of the Composer image version the composer target names, too.
COMPOSER_AIRFLOW=$(sed -nE 's/^ *image_version: *composer-3-airflow-([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' targets.yaml | head -1)
# The images are built side by side (each its own root and venv; mostly downloads and pip's resolver), and beside
# the worker images' base, while lint and docs run: each writes its log to .state/ci-build-NAME.log, printed when
# it ends, and a failed one fails the run there.
mkdir -p .state
builds=()
background() {
  local name=$1; shift
  echo "   started: $name (log: .state/ci-build-$name.log)"
  ("$@" >".state/ci-build-$name.log" 2>&1) &
  builds+=("$name:$!")
}
wait_builds() {
  local build name failed=0
  for build in "${builds[@]}"; do
    name=${build%%:*}
    if wait "${build##*:}"; then echo "   done: $name"; else echo "error: $name failed:" >&2; failed=1; fi
    sed 's/^/     /' ".state/ci-build-$name.log"
  done
  builds=()
  return $failed
}
step "Airflow images for the cluster ($AIRFLOW_VERSION, $AIRFLOW_PREVIOUS to upgrade from\
${COMPOSER_AIRFLOW:+, $COMPOSER_AIRFLOW for the rehearsed Composer image}) and the worker images' base, side by side"
background "airflow-$AIRFLOW_VERSION" cluster_airflow_image "$AIRFLOW_VERSION"
background "airflow-$AIRFLOW_PREVIOUS" cluster_airflow_image "$AIRFLOW_PREVIOUS"
if [ -n "$COMPOSER_AIRFLOW" ] && [ "$COMPOSER_AIRFLOW" != "$AIRFLOW_VERSION" ]; then
  # The rehearsed build's own pins of what the rehearsal exercises, where Google's package list shows them
  # (https://cloud.google.com/composer/docs/versions-packages: composer-3-airflow-3.3.1-build.0's providers,
  # build.10's amqp); celery below 5.7, whose 5.7.0 breaks the celery provider's executor import.
  case "$COMPOSER_AIRFLOW" in
    3.3.1) composer_pip="apache-airflow-providers-celery==3.23.1 apache-airflow-providers-cncf-kubernetes==10.14.0 \
celery==5.6.3 amqp==5.4.2" ;;
    *) composer_pip="celery==5.6.3" ;;
  esac
  composer_image() { EXTRA_PIP="$composer_pip" cluster_airflow_image "$COMPOSER_AIRFLOW"; }
  background "airflow-$COMPOSER_AIRFLOW" composer_image
fi
if [ -z "${WORKER_BASE_IMAGE:-}" ]; then
  # debootstrap makes the worker images' base: no registry to pull one from.
  background worker-base bash .ci/worker-base.sh
fi

step "project secret files from their templates (what a new user does)"
for template in k8s/*/secret.env.example; do
  [ -f "${template%.example}" ] || cp "$template" "${template%.example}"
done
# The database example reaches the host PostgreSQL from pods at the cluster's address for this host.
if [ -f k8s/example-db/secret.env ]; then
  pw=$(sed -E 's#^[^:]+://[^:]+:([^@]+)@.*#\1#' .state/ci-metadata-db.url)
  sed -i -E "s#^DATABASE_URL=.*#DATABASE_URL=postgresql+psycopg://airflow:${pw}@${CI_HOST_FROM_PODS}:5432/airflow_test#" \
    k8s/example-db/secret.env
fi

export AUTOMATION_SETTINGS="$CI_SETTINGS"
export AUTOMATION_CLUSTER_TARGET=ci
# The Composer rehearsal's cluster tests: same cluster and namespace, after the lifecycle tests purged theirs.
export AUTOMATION_REHEARSAL_TARGET=ci-rehearsal
# The cluster tests start "from nothing": after purging the target they reset its external metadata DB.
export AUTOMATION_TEST_RESET_DB="bash $PWD/.ci/postgres.sh --reset"
export AIRFLOW_CHART_DIR="$CI_CHART_DIR"

# A machine that ran CI before may hold what an interrupted run left: its targets (their port-forwards were
# stopped at the start, by pid), and a metadata database whose values are encrypted
# with a Fernet key purged since. The run starts from nothing, as on a new machine.
if kubectl get namespace airflow composer-user-workloads --ignore-not-found -o name | grep -q .; then
  step "leftovers of an earlier run on this machine: down --purge of the CI targets"
  nox -s down -- --target ci-rehearsal --purge --yes
  nox -s down -- --target ci --purge --yes
fi
step "metadata database emptied (the cluster tests start from nothing)"
bash .ci/postgres.sh --reset

step "lint"
nox -s lint
step "docs (nox -s docs: the site built strictly)"
nox -s docs

step "the images built side by side since the start of lint"
wait_builds
step "every session a user runs (lock, status, render, dags, up, images, e2e, logs, airflow, task, doctor, restart, down), each from the lock"
bash .ci/user-sessions.sh

step "tests (nox -s tests), cluster tests included; the 30 slowest listed at the end"
nox -s tests -- -p no:cacheprovider --durations=30
step "targets matrix: up --dry-run, render (validated) and the parity check for local, existing, gke, composer, composer-rehearsal"
bash .ci/plans.sh
step "done in $((SECONDS - t0))s"
