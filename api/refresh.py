"""Refresh every continuous aggregate over a window after data was written.

The embedded engine runs no background jobs, and on a real server a backfill older than the
refresh policy's window would otherwise never be reflected. Aggregates are refreshed finest
bucket first, so hierarchical aggregates (1 h on top of 1 min) see fresh input."""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg import sql

# Finest bucket first (TimescaleDB's own catalog holds the width of each aggregate's bucket).
# refresh_continuous_aggregate() only refreshes buckets lying wholly inside the window and refuses
# a window smaller than one bucket, judged on the default (UTC) bucket grid even for aggregates
# with another origin (2.23: a 1-day window from 00:00+09 to 00:00+09 is "too small"). So the
# window is widened to whole buckets of each aggregate's own grid plus one bucket on each side:
# a late row at 10:00:05 must still reach the 1-day bucket around it.
AGGREGATES_SQL = """
SELECT
    format('%%I.%%I', agg.user_view_schema, agg.user_view_name),
    time_bucket(
        bucket.bucket_width::interval, %(start)s::timestamptz,
        coalesce(bucket.bucket_timezone, 'UTC'), bucket.bucket_origin::timestamptz
    ) - bucket.bucket_width::interval,
    time_bucket(
        bucket.bucket_width::interval, %(end)s::timestamptz - interval '1 microsecond',
        coalesce(bucket.bucket_timezone, 'UTC'), bucket.bucket_origin::timestamptz
    ) + 2 * bucket.bucket_width::interval
FROM _timescaledb_catalog.continuous_agg AS agg
INNER JOIN _timescaledb_catalog.continuous_aggs_bucket_function AS bucket
    ON agg.mat_hypertable_id = bucket.mat_hypertable_id
WHERE agg.user_view_schema = 'ess'
ORDER BY bucket.bucket_width::interval, agg.user_view_name
"""


def refresh_aggregates(conn: psycopg.Connection, start: datetime, end: datetime) -> list[str]:
    """Refresh all aggregates of schema ess over [start, end); `conn` must be in autocommit."""
    rows = conn.execute(AGGREGATES_SQL, {"start": start, "end": end}).fetchall()
    for name, bucket_start, bucket_end in rows:
        conn.execute(
            "CALL refresh_continuous_aggregate(%s, %s, %s)", (name, bucket_start, bucket_end)
        )
    return [name for name, _, _ in rows]


def analyze(conn: psycopg.Connection, components: list[str] | tuple[str, ...]) -> None:
    """Update planner statistics of freshly written component tables. A real server's autovacuum
    does this by itself; the embedded engine runs none, and with the statistics of an empty table
    the planner picks plans that spill to disk (seen: SoCP sorting 80 MB)."""
    for component in components:
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier("ess", component)))
