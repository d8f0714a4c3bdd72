#!/usr/bin/env bash
# The cluster tests' fault injection on ../shared's single-node Kubernetes (AUTOMATION_TEST_APISERVER_STOP and
# _START, set by .ci/cluster/shared-kube.sh): `stop` kills the API server by its pid file, as a crash would (a
# graceful stop drains for a minute, and a second server cannot bind the port before the first has exited), and
# waits until it is gone; `start` brings back what is missing through up.sh.
set -euo pipefail
# shellcheck source=.ci/guard.sh
source "$(dirname "$0")/guard.sh"
require_ci .ci/shared-kube-apiserver.sh "kills or starts the shared Kubernetes API server" \
  "CI=true bash .ci/shared-kube-apiserver.sh ${1:-stop|start} SHARED_DIR"
action=${1:?usage: shared-kube-apiserver.sh stop|start SHARED_DIR}
shared=${2:?usage: shared-kube-apiserver.sh stop|start SHARED_DIR}
pid_file="${KUBE_HOME:-/var/tmp/kube-harness}/run/apiserver.pid"
case "$action" in
  stop)
    pid=$(cat "$pid_file")
    kill -9 "$pid"
    for _ in $(seq 30); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 1
    done
    echo "error: the API server (pid $pid) did not exit" >&2
    exit 1
    ;;
  start)
    bash "$(dirname "$0")/shared-kube-up.sh" "$shared" >/dev/null
    ;;
  *)
    echo "error: unknown action $action: use stop or start" >&2
    exit 2
    ;;
esac
