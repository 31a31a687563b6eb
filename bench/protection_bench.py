"""The protection map from stored events against the on-the-fly evaluation, one engine, one run.

One site of 9 racks, 30 days (every second by default: 23.3 M rack rows) with excursions every
day (safety_bench.py's data). The store is built once (ess.refresh_protection_events, timed),
then, interleaved so that load from elsewhere hits both alike:

- the 30-day and the 1-day map (ess.protection_episodes, the API's call) and the 30-day level
  counts per day, from the store (the default) and on the fly (p_use_store => false);
- SELECT count(*) of the window's rack rows: the raw engine's reference for every ratio.

Stored and on-the-fly answers are checked equal. A refresh with nothing new (a job's tick) and
the refresh after one more hour of rows are timed too.

    .venv/bin/python bench/protection_bench.py [--interval 1] [--repetitions 5] [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine (there,
--interval 10 keeps the month at 2.3 M rows); with one, it removes its scratch site afterwards.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

from common import bench_database, describe_setup, interleaved, median_ms, timed, write_results
from safety_bench import MONTH, RACKS, generated_site, insert_rack_rows

from api.db import connect

DAYS = 30
PLAIN_SCAN = "SELECT count(*) of the window's rows"
EPISODES = "SELECT * FROM ess.protection_episodes(%s, %s, %s, p_use_store => %s)"
COUNTS = "SELECT * FROM ess.protection_level_counts(%s, %s, %s, '1 day', p_use_store => %s)"
SCAN = "SELECT count(*) FROM ess.rack WHERE site_id = %s AND ts >= %s AND ts < %s"


def timed_once(conn, statement: str, params: tuple) -> tuple[float, object]:
    began = time.perf_counter()
    result = conn.execute(statement, params).fetchone()[0]
    return time.perf_counter() - began, result


def measure(conn, site: int, repetitions: int) -> dict[str, dict[str, float]]:
    """label -> {stored_ms, on_the_fly_ms, scan_ms}: each map both ways, and the plain scan of
    the same window measured alongside."""
    month = (MONTH, MONTH + timedelta(days=DAYS))
    day = (MONTH + timedelta(days=14), MONTH + timedelta(days=15))
    cases = {
        "30-day map (episodes)": (EPISODES, month),
        "1-day map (episodes)": (EPISODES, day),
        "30-day level counts per day": (COUNTS, month),
    }
    figures = {}
    for label, (statement, window) in cases.items():
        stored_times, raw_times, stored, raw = interleaved(
            lambda s=statement, w=window: conn.execute(s, (site, *w, True)).fetchall(),
            lambda s=statement, w=window: conn.execute(s, (site, *w, False)).fetchall(),
            repetitions,
        )
        assert sorted(stored, key=repr) == sorted(raw, key=repr), f"{label}: answers differ"
        scan_times, _ = timed(
            lambda w=window: conn.execute(SCAN, (site, *w)).fetchall(), repetitions
        )
        figures[label] = {
            "rows_answered": len(stored),
            "stored_ms": median_ms(stored_times),
            "on_the_fly_ms": median_ms(raw_times),
            "scan_ms": median_ms(scan_times),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=int, default=1, help="seconds between rack rows")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if not 1 <= args.interval <= 60:
        parser.error("--interval: from 1 to 60 seconds")
    with bench_database(args.database_url) as db, connect(db.url) as conn:
        setup = describe_setup(conn)
        with generated_site(conn, "protstore", MONTH, DAYS, args.interval) as (site, rows):
            build_s, events = timed_once(conn, "SELECT ess.refresh_protection_events(%s)", (site,))
            print(f"store built: {events:,} events from {rows:,} rows in {build_s:.1f} s")
            tick_s, _ = timed_once(conn, "SELECT ess.refresh_protection_events(%s)", (site,))
            end = MONTH + timedelta(days=DAYS)
            insert_rack_rows(conn, site, end, end + timedelta(hours=1), args.interval)
            hour_s, _ = timed_once(conn, "SELECT ess.refresh_protection_events(%s)", (site,))
            print(
                f"refresh with nothing new {tick_s * 1000:.0f} ms; after one more hour of "
                f"rows {hour_s * 1000:.0f} ms"
            )
            try:
                figures = measure(conn, site, args.repetitions)
            finally:
                conn.execute("DELETE FROM ess.protection_event WHERE site_id = %s", (site,))
        print(
            f"\none site ({RACKS} racks), {DAYS} days every {args.interval} s: {rows:,} rows, "
            f"median of {args.repetitions}; scan = {PLAIN_SCAN}, measured alongside"
        )
        print(
            f"{'query':<30}{'stored ms':>11}{'on the fly ms':>15}{'scan ms':>10}"
            f"{'stored/scan':>13}{'speed-up':>10}"
        )
        for label, f in figures.items():
            print(
                f"{label:<30}{f['stored_ms']:>11.1f}{f['on_the_fly_ms']:>15.1f}"
                f"{f['scan_ms']:>10.1f}{f['stored_ms'] / f['scan_ms']:>12.3f}x"
                f"{f['on_the_fly_ms'] / f['stored_ms']:>9.1f}x"
            )
        write_results(
            "protection_bench",
            {
                **setup,
                "interval_s": args.interval,
                "rack_rows": rows,
                "events_stored": events,
                "store_build_s": build_s,
                "refresh_nothing_new_ms": tick_s * 1000,
                "refresh_one_more_hour_ms": hour_s * 1000,
                "figures": figures,
            },
        )


if __name__ == "__main__":
    main()
