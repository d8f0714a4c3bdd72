#!/usr/bin/env bash
# CI only: PostgreSQL on this host for the Airflow metadata DB (pods reach the host at 10.244.0.1) and for
# the database example. Writes the metadata URL (random password, made once) where .ci/targets.yaml reads it.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pg_ctlcluster >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }
conf=/etc/postgresql/15/main
grep -q "^listen_addresses = '\*'" $conf/postgresql.conf || echo "listen_addresses = '*'" >> $conf/postgresql.conf
grep -q "10.244.0.0/16" $conf/pg_hba.conf || echo "host all all 10.244.0.0/16 scram-sha-256" >> $conf/pg_hba.conf
grep -q "^max_connections = 300" $conf/postgresql.conf || echo "max_connections = 300" >> $conf/postgresql.conf
pg_ctlcluster 15 main restart 2>/dev/null || pg_ctlcluster 15 main start
mkdir -p .state && chmod 700 .state
url_file=.state/ci-metadata-db.url
if [ ! -s "$url_file" ]; then
  pw=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  (umask 077; echo "postgresql://airflow:${pw}@10.244.0.1:5432/airflow" > "$url_file")
fi
pw=$(sed -E 's#^[^:]+://[^:]+:([^@]+)@.*#\1#' "$url_file")
su postgres -c psql >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airflow') THEN CREATE ROLE airflow LOGIN; END IF;
END \$\$;
ALTER ROLE airflow WITH LOGIN PASSWORD '${pw}' CREATEDB;
SQL
if [ "${1:-}" = "--reset" ]; then
  # A purged environment has a new Fernet key: start its metadata DB from nothing too.
  su postgres -c "dropdb --force --if-exists airflow"
fi
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='airflow'\"" | grep -q 1 || su postgres -c "createdb -O airflow airflow"
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='airflow_test'\"" | grep -q 1 || su postgres -c "createdb -O airflow airflow_test"
echo "postgres: ready on 10.244.0.1:5432 (metadata URL in $url_file)"
