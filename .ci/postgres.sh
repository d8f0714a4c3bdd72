#!/usr/bin/env bash
# CI only: PostgreSQL on this host for the Airflow metadata DB and for the database example, reached by pods at
# $CI_HOST_FROM_PODS (default 10.244.0.1, the single-node Kubernetes of .ci/run; on Minikube its network's
# gateway, set by .ci/cluster/minikube.sh). Writes the metadata URL (random password, made once) where the CI
# settings overlay reads it. Runs as root (this machine) or as a user with sudo (GitHub's runners).
set -euo pipefail
cd "$(dirname "$0")/.."
host=${CI_HOST_FROM_PODS:-10.244.0.1}
# Where pods' connections come from: the pod network, and on Minikube the node's network they are NATed to.
networks=${CI_POD_NETWORKS:-10.244.0.0/16}
# shellcheck source=.ci/guard.sh
source .ci/guard.sh
require_ci .ci/postgres.sh "installs PostgreSQL, opens it to the pod networks${1:+, drops its database airflow}" \
  "CI=true bash .ci/postgres.sh${1:+ $1}"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { if [ "$(id -u)" -eq 0 ]; then su postgres -c "$1"; else (cd / && sudo -u postgres sh -c "$1"); fi; }
add_line() { as_root grep -qxF -- "$2" "$1" || echo "$2" | as_root tee -a "$1" >/dev/null; }

command -v pg_ctlcluster >/dev/null || {
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}
# The installed major version, not a fixed one: Debian 12 ships 15, Ubuntu 24.04 (GitHub's runners) 16.
version=$(pg_lsclusters -h | awk '$2 == "main" {print $1}' | sort -n | tail -1)
[ -n "$version" ] || { echo "error: no PostgreSQL cluster named main (pg_lsclusters shows none)" >&2; exit 1; }
conf=/etc/postgresql/$version/main
add_line "$conf/postgresql.conf" "listen_addresses = '*'"
add_line "$conf/postgresql.conf" "max_connections = 300"
for network in $networks; do
  add_line "$conf/pg_hba.conf" "host all all $network scram-sha-256"
done
as_root pg_ctlcluster "$version" main restart 2>/dev/null || as_root pg_ctlcluster "$version" main start

mkdir -p .state && chmod 700 .state
url_file=.state/ci-metadata-db.url
if [ -s "$url_file" ]; then
  pw=$(sed -E 's#^[^:]+://[^:]+:([^@]+)@.*#\1#' "$url_file")
else
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
fi
# Written on every run: the password is kept, the address is this run's.
(umask 077; echo "postgresql://airflow:${pw}@${host}:5432/airflow" > "$url_file")
as_postgres psql >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airflow') THEN CREATE ROLE airflow LOGIN; END IF;
END \$\$;
ALTER ROLE airflow WITH LOGIN PASSWORD '${pw}' CREATEDB;
SQL
if [ "${1:-}" = "--reset" ]; then
  # A purged environment has a new Fernet key: start its metadata DB from nothing too.
  as_postgres "dropdb --force --if-exists airflow"
fi
for db in airflow airflow_test; do
  as_postgres "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" | grep -q 1 \
    || as_postgres "createdb -O airflow $db"
done
echo "postgres $version: ready on $host:5432 (metadata URL in $url_file)"
