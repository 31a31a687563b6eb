"""Refresh every continuous aggregate over a window after data was written.

The embedded engine runs no background jobs, and on a real server a backfill older than the
refresh policy's window would otherwise never be reflected. Aggregates are refreshed finest
bucket first, so hierarchical aggregates (1 h on top of 1 min) see fresh input."""

from __future__ import annotations

from datetime import datetime

import psycopg

# Finest bucket first (TimescaleDB's own catalog holds the width of each aggregate's bucket).
AGGREGATES_SQL = """
SELECT format('%I.%I', agg.user_view_schema, agg.user_view_name)
FROM _timescaledb_catalog.continuous_agg AS agg
INNER JOIN _timescaledb_catalog.continuous_aggs_bucket_function AS bucket
    ON agg.mat_hypertable_id = bucket.mat_hypertable_id
WHERE agg.user_view_schema = 'ess'
ORDER BY bucket.bucket_width::interval, agg.user_view_name
"""


def refresh_aggregates(conn: psycopg.Connection, start: datetime, end: datetime) -> list[str]:
    """Refresh all aggregates of schema ess over [start, end); `conn` must be in autocommit."""
    names = [row[0] for row in conn.execute(AGGREGATES_SQL)]
    for name in names:
        conn.execute("CALL refresh_continuous_aggregate(%s, %s, %s)", (name, start, end))
    return names
