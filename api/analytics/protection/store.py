"""The stored protection events (ess.protection_event, sql/functions/protection_map.sql) after
data was written: `ess load` and the demo call refresh_protection_events over the time range
they wrote, so a backfill older than the store's watermark is evaluated again. A real server's
TimescaleDB job extends the store every 5 minutes; readings past the watermark are always read
on the fly, so an answer never waits for either."""

from __future__ import annotations

from datetime import datetime

import psycopg

REFRESH_SQL = """
SELECT coalesce(sum(ess.refresh_protection_events(s.site_id, %(start)s, %(end)s)), 0)
FROM ess.site AS s
"""


def refresh_protection_events(conn: psycopg.Connection, start: datetime, end: datetime) -> int:
    """Evaluate every site's readings of [start, end) again and extend the store from its
    watermark; returns the events written."""
    row = conn.execute(REFRESH_SQL, {"start": start, "end": end}).fetchone()
    return int(row[0]) if row else 0
