#!/bin/sh
# A streaming replica's start (the compose file's `replica` service, as the postgres user): on
# its first start, copy the primary with pg_basebackup -R (which also writes the standby's
# connection settings); then run the server with the arguments given, in recovery.
set -eu
: "${PGDATA:?set PGDATA}"
: "${ESS_PRIMARY_HOST:?set ESS_PRIMARY_HOST}"
: "${ESS_REPLICATION_PASSWORD:?set ESS_REPLICATION_PASSWORD}"
primary_port="${ESS_PRIMARY_PORT:-5432}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "replica: copying the primary $ESS_PRIMARY_HOST:$primary_port (pg_basebackup)"
  mkdir -p "$PGDATA"
  attempt=1
  # the primary may still be creating its cluster (its replication login comes last): retry
  until PGPASSWORD="$ESS_REPLICATION_PASSWORD" pg_basebackup --host "$ESS_PRIMARY_HOST" \
    --port "$primary_port" --username replicator --pgdata "$PGDATA" \
    --wal-method stream --write-recovery-conf --checkpoint fast --no-password; do
    if [ "$attempt" -ge "${ESS_BASEBACKUP_ATTEMPTS:-60}" ]; then
      echo "replica: no copy of the primary after $attempt attempts" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    # a failed copy leaves a partial directory behind: start the next one from empty
    find "$PGDATA" -mindepth 1 -delete
    sleep 2
  done
fi
# PostgreSQL refuses a data directory others may read (the image creates it with mode 1777)
chmod 0700 "$PGDATA"
exec postgres "$@"
