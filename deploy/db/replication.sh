#!/bin/sh
# The primary's side of streaming replication, run once by the TimescaleDB image's entrypoint when
# it creates the data directory (mounted into /docker-entrypoint-initdb.d): a login that may
# stream the WAL, and a pg_hba.conf line that lets it in with its password.
set -eu
: "${ESS_REPLICATION_PASSWORD:?set ESS_REPLICATION_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  --set=password="$ESS_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"
