"""Hand-made operating data for the safety-analytics tests: a quiet rack at rest, with the
columns a test cares about overridden by constants or by functions of the second."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

import psycopg
from psycopg import sql

from api.refresh import refresh_aggregates

# A healthy rack at rest, mid SoC, well inside every protection limit and SoS release value.
QUIET_RACK = {
    "rack_soc": 50.0,
    "rack_soh": 98.0,
    "rack_voltage": 880.0,
    "rack_current": 0.0,
    "rack_max_cell_voltage": 3.70,
    "rack_max_cell_voltage_position": 17.0,
    "rack_min_cell_voltage": 3.67,
    "rack_min_cell_voltage_position": 5.0,
    "rack_cell_voltage_gap": 0.03,
    "rack_cell_voltage_average": 3.685,
    "rack_max_cell_temperature": 30.0,
    "rack_max_cell_temperature_position": 3.0,
    "rack_min_cell_temperature": 24.0,
    "rack_min_cell_temperature_position": 9.0,
    "rack_cell_temperature_gap": 6.0,
}

Value = float | int | None | Callable[[int], float | int | None]


def rack_rows(
    site_id: int,
    bank_id: int,
    rack_id: int,
    start: datetime,
    seconds: int,
    step: int = 1,
    skip: Iterable[int] = (),
    **columns: Value,
) -> list[dict]:
    """One row every `step` seconds for `seconds` seconds (except the seconds in `skip`); each
    column is QUIET_RACK's value unless given as a constant or as a function of the second."""
    skipped = set(skip)
    spec = {**QUIET_RACK, **columns}
    rows = []
    for second in range(0, seconds, step):
        if second in skipped:
            continue
        row = {"ts": start + timedelta(seconds=second), "site_id": site_id}
        row |= {"bank_id": bank_id, "rack_id": rack_id}
        for name, value in spec.items():
            row[name] = value(second) if callable(value) else value
        rows.append(row)
    return rows


def day_answer(client, url: str, day: str, **params: str) -> object:
    """The answer to date=day, checked to be the answer to start-time and end-time at the
    day's local midnights (the tests' sites are in Asia/Seoul)."""
    answer = client.get(url, params={"date": day, **params})
    assert answer.status_code == 200, answer.text
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    window = {"start-time": f"{day}T00:00:00", "end-time": f"{next_day}T00:00:00+09:00"}
    assert answer.json() == client.get(url, params={**window, **params}).json()
    return answer.json()


def insert_rows(conn: psycopg.Connection, table: str, rows: list[dict]) -> int:
    """Insert dict rows into ess.<table> with one INSERT ... SELECT FROM unnest(...) per batch
    (the embedded engine has no COPY FROM)."""
    if not rows:
        return 0
    types = dict(
        conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (f"ess.{table}",),
        ).fetchall()
    )
    names = sorted({name for row in rows for name in row})
    statement = sql.SQL("INSERT INTO {} ({}) SELECT * FROM unnest({})").format(
        sql.Identifier("ess", table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(types[n])) for n in names),
    )
    for first in range(0, len(rows), 20000):
        batch = rows[first : first + 20000]
        conn.execute(statement, [[row.get(n) for row in batch] for n in names])
    return len(rows)


def store(conn: psycopg.Connection, table: str, rows: list[dict]) -> int:
    """Insert the rows, then refresh the continuous aggregates over their time span (the
    embedded engine runs no refresh policy)."""
    count = insert_rows(conn, table, rows)
    times = [row["ts"] for row in rows]
    refresh_aggregates(conn, min(times), max(times) + timedelta(seconds=1))
    return count
