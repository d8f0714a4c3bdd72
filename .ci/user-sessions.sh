#!/usr/bin/env bash
# Every session a user runs, as a user runs it: `nox -s NAME -- --target ci ...` in this fresh clone, each one
# making its own environment from uv.lock (nothing of the tests session is reused), `up` with its DAG check on.
# Ends with the target purged and its database emptied, so the cluster tests start from nothing.
# Needs what .ci/steps.sh set up: the cluster, AUTOMATION_SETTINGS naming the ci target, PostgreSQL, a registry.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/guard.sh
source .ci/guard.sh
require_ci .ci/user-sessions.sh "purges target ci and drops PostgreSQL's database airflow" \
  "CI=true bash .ci/user-sessions.sh"
base=${WORKER_BASE_IMAGE:-local/worker-base:bookworm-py311}
ca=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && ca=(--ca-bundle /etc/ssl/certs/ca-certificates.crt)
out=$(mktemp -d)
t0=$SECONDS
session() { echo "-- [sessions $((SECONDS - t0))s] nox -s $*"; nox -s "$@"; }

# The lock session on an unchanged pyproject.toml: it must find nothing to change.
session lock
git diff --exit-code --stat uv.lock
session status -- --target ci
session render -- --target ci --out "$out/render"
session dags -- --target ci
session up -- --target ci
session images -- --target ci --base-image "$base" "${ca[@]}"
session e2e -- --target ci --dag example1 --timeout 600
session logs -- --target ci --dag example1 --task extract
session logs -- --target ci scheduler --tail 5
session airflow -- --target ci dags list
session task -- --target ci example1 extract
session doctor -- --target ci
session prune -- --target ci
session restart -- --target ci triggerer
session down -- --target ci --purge --yes
# `images` wrote the tags of CI's base into the committed file; the checkout stays as cloned.
git checkout -- dags/common/images.json
bash .ci/postgres.sh --reset
rm -rf "$out"
echo "-- [sessions $((SECONDS - t0))s] every user session ran from its own environment"
