"""Safety analytics on one engine, in one run, against plain scans of the same rows:

1. SoS for one bank (9 racks) over one day at 1-minute buckets (1 Hz data, 777,600 rows): the
   API's call (ess.rack_sos, which reads the 1-minute continuous aggregate), the same SoS from
   the raw rows (30-second buckets force that path), ExSoS per rack at 1 minute, SoCP of one
   rack and of the bank over the day; against SELECT count(*) and a plain time_bucket max/min
   of the seven hazard inputs over the same raw rows.
2. Protection episodes for one site (9 racks) over 30 days, at a coarser cadence by default
   (every 10 s: 2.3 M rows; --interval 1 for 1 Hz, at most 60) with injected excursions: the
   API's call (ess.protection_episodes), the counts per day and level, against SELECT count(*).

    .venv/bin/python bench/safety_bench.py [--interval 10] [--repetitions 3] [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory and throws it away; with one, it removes its scratch sites' rows afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from common import (
    bench_database,
    describe_setup,
    drop_scratch_site,
    median_ms,
    scratch_site,
    timed,
)

from api.db import connect
from api.refresh import refresh_aggregates

SEOUL = ZoneInfo("Asia/Seoul")
DAY = datetime(2022, 5, 10, tzinfo=SEOUL)
MONTH = datetime(2022, 6, 1, tzinfo=SEOUL)
RACKS = 9
PLAIN_SCAN = "SELECT count(*) (plain scan)"  # the reference of each part's ratios

# One rack's rows over [start, end) every `step` seconds: a daily charge/discharge cycle with
# quantised values, cell positions that wander, and the excursions of `anomalies` (rack 3:
# over-temperature through 50 and 55 C for 10 minutes at 14:00 local; rack 5: discharge at
# -130 A for 5 minutes at 18:00; rack 7: the BMS's voltage-imbalance warning for 2 minutes at
# 09:00), every day.
RACK_ROWS_SQL = """
INSERT INTO ess.rack (
    ts, site_id, bank_id, rack_id, rack_soc, rack_soh, rack_voltage, rack_current,
    rack_max_cell_voltage, rack_max_cell_voltage_position, rack_min_cell_voltage,
    rack_min_cell_voltage_position, rack_cell_voltage_gap, rack_max_cell_temperature,
    rack_min_cell_temperature, rack_cell_temperature_gap, rack_voltage_imbalance_warning
)
SELECT
    ts, %(site)s, 1, %(rack)s,
    round((45 + 44 * sin(phase))::numeric, 1),
    99.5,
    round((880 + 80 * sin(phase))::numeric, 1),
    CASE WHEN %(anomalies)s AND %(rack)s = 5 AND local_time >= '18:00' AND local_time < '18:05'
         THEN -130 ELSE round((60 * cos(phase))::numeric, 1) END,
    round((3.75 + 0.25 * sin(phase) + 0.02)::numeric, 3),
    1 + (epoch / 37) %% 240,
    round((3.75 + 0.25 * sin(phase) - 0.02)::numeric, 3),
    1 + (epoch / 53) %% 240,
    0.04,
    CASE WHEN %(anomalies)s AND %(rack)s = 3 AND local_time >= '14:00' AND local_time < '14:10'
         THEN 48 + extract(epoch FROM local_time - '14:00') / 60.0
         ELSE round((31 + 5 * sin(phase) + 4)::numeric, 1) END,
    round((31 + 5 * sin(phase) - 4)::numeric, 1),
    8,
    CASE WHEN %(anomalies)s AND %(rack)s = 7 AND local_time >= '09:00' AND local_time < '09:02'
         THEN 1 ELSE 0 END
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 second',
                     %(step)s * interval '1 second') AS ts,
     LATERAL (
         SELECT
             2 * pi() * extract(epoch FROM ts) / 86400 AS phase,
             extract(epoch FROM ts)::bigint AS epoch,
             (ts AT TIME ZONE 'Asia/Seoul')::time AS local_time
     ) AS p
"""


def insert_rack_rows(conn, site: int, start: datetime, end: datetime, step: int) -> None:
    """Every rack's rows over [start, end), one every `step` seconds, with the excursions."""
    for rack in range(1, RACKS + 1):
        conn.execute(
            RACK_ROWS_SQL,
            {
                "site": site,
                "rack": rack,
                "start": start,
                "end": end,
                "step": step,
                "anomalies": True,
            },
        )


def generate(conn, site: int, start: datetime, days: int, step: int) -> int:
    began = time.perf_counter()
    for day in range(days):
        insert_rack_rows(
            conn, site, start + timedelta(days=day), start + timedelta(days=day + 1), step
        )
    rows = conn.execute("SELECT count(*) FROM ess.rack WHERE site_id = %s", (site,)).fetchone()[0]
    seconds = time.perf_counter() - began
    print(f"generated {rows:,} rack rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
    began = time.perf_counter()
    refresh_aggregates(conn, start, start + timedelta(days=days))
    # planner statistics, as autovacuum keeps them on a server (the embedded engine runs none)
    conn.execute("ANALYZE ess.rack")
    print(f"refreshed the aggregates and analyzed in {time.perf_counter() - began:.1f} s")
    return rows


@contextlib.contextmanager
def generated_site(conn, label: str, start: datetime, days: int, step: int) -> Iterator[tuple]:
    """(site, rows): a scratch site with `days` days of rows every `step` seconds from
    `start`, removed afterwards."""
    site = scratch_site(conn, label, (RACKS,))
    try:
        yield site, generate(conn, site, start, days, step)
    finally:
        drop_scratch_site(conn, site, refresh=(start, start + timedelta(days=days)))


def run_queries(conn, queries: dict, repetitions: int) -> tuple[dict, dict]:
    """queries: label -> (statement, parameters, rows it covers)."""
    timings, answers = {}, {}
    for label, (statement, params, _) in queries.items():
        timings[label], answers[label] = timed(
            lambda s=statement, p=params: conn.execute(s, p).fetchall(), repetitions
        )
    return timings, answers


def report(title: str, queries: dict, timings: dict[str, list[float]]) -> None:
    """rows/s: the rows each query covers (its racks and window) per second."""
    base = median_ms(timings[PLAIN_SCAN])
    print(f"\n{title}; ratio = time / time of {PLAIN_SCAN}")
    print(f"{'query':<58}{'median ms':>11}{'rows/s':>14}{'ratio':>9}")
    for label, times in timings.items():
        ms = median_ms(times)
        rows = queries[label][2]
        print(f"{label:<58}{ms:>11.1f}{rows / (ms / 1000):>14,.0f}{ms / base:>8.2f}x")


def bench_sos(conn, repetitions: int) -> None:
    with generated_site(conn, "sosbench", DAY, 1, 1) as (site, rows):
        window = (site, DAY, DAY + timedelta(days=1))
        queries = {
            PLAIN_SCAN: (
                "SELECT count(*) FROM ess.rack WHERE site_id = %s AND bank_id = 1 "
                "AND ts >= %s AND ts < %s",
                window,
                rows,
            ),
            "time_bucket 1 min max/min of the 7 inputs, raw rows": (
                "SELECT time_bucket('1 minute', ts), rack_id, max(rack_max_cell_voltage), "
                "min(rack_min_cell_voltage), max(rack_cell_voltage_gap), max(abs(rack_current)), "
                "max(rack_max_cell_temperature), min(rack_min_cell_temperature), "
                "max(rack_cell_temperature_gap) FROM ess.rack WHERE site_id = %s "
                "AND bank_id = 1 AND ts >= %s AND ts < %s GROUP BY 1, 2",
                window,
                rows,
            ),
            "ess.rack_sos 1 min (the API's call: 1-min aggregate)": (
                "SELECT * FROM ess.rack_sos(%s, 1, NULL, %s, %s, '1 minute')",
                window,
                rows,
            ),
            "ess.rack_sos 30 s (raw rows)": (
                "SELECT * FROM ess.rack_sos(%s, 1, NULL, %s, %s, '30 seconds')",
                window,
                rows,
            ),
            "ess.exsos per rack 1 min (1-min aggregate)": (
                "SELECT * FROM ess.exsos(%s, 1, NULL, %s, %s, '1 minute')",
                window,
                rows,
            ),
            "ess.exsos bank level 1 min (1-min aggregate)": (
                "SELECT * FROM ess.exsos(%s, 1, NULL, %s, %s, '1 minute', 1)",
                window,
                rows,
            ),
            "ess.rack_socp one rack, the day (raw rows)": (
                "SELECT * FROM ess.rack_socp(%s, 1, 3, %s, %s)",
                window,
                rows // RACKS,
            ),
            "ess.rack_socp 9 racks, the day (raw rows)": (
                "SELECT * FROM ess.rack_socp(%s, 1, NULL, %s, %s)",
                window,
                rows,
            ),
        }
        timings, answers = run_queries(conn, queries, repetitions)
        sos = answers["ess.rack_sos 1 min (the API's call: 1-min aggregate)"]
        assert len(sos) == RACKS * 1440, len(sos)
        unsafe = sum(1 for row in sos if row[-1] != "safe")
        print(f"SoS: {len(sos)} rack-minutes, {unsafe} of them warning or unsafe")
        # SoCP of the one rack: samples per state and decile add up to its rows
        socp = answers["ess.rack_socp one rack, the day (raw rows)"]
        samples = {(r[2], r[3]): r[7] for r in socp}
        assert sum(samples.values()) == rows // RACKS, sum(samples.values())
    report(
        f"one bank ({RACKS} racks), one day at 1 Hz: {rows:,} rows, median of {repetitions}",
        queries,
        timings,
    )


def bench_protection(conn, repetitions: int, interval: int) -> None:
    days = 30
    with generated_site(conn, "protbench", MONTH, days, interval) as (site, rows):
        window = (site, MONTH, MONTH + timedelta(days=days))
        queries = {
            PLAIN_SCAN: (
                "SELECT count(*) FROM ess.rack WHERE site_id = %s AND ts >= %s AND ts < %s",
                window,
                rows,
            ),
            "ess.protection_episodes (the API's call)": (
                "SELECT * FROM ess.protection_episodes(%s, %s, %s)",
                window,
                rows,
            ),
            "ess.protection_level_counts per day": (
                "SELECT * FROM ess.protection_level_counts(%s, %s, %s, '1 day')",
                window,
                rows,
            ),
        }
        timings, answers = run_queries(conn, queries, repetitions)
        episodes = answers["ess.protection_episodes (the API's call)"]
        kinds: dict[tuple, int] = {}
        for row in episodes:
            key = (row[8], row[10], row[14])  # hazard, level_name, source
            kinds[key] = kinds.get(key, 0) + 1
        print(f"episodes found: {len(episodes)}")
        for (hazard, level, source), count in sorted(kinds.items()):
            print(f"  {count:>4} x {hazard} {level} ({source})")
        # every day: over-temperature warning and fault, discharge over-current, the BMS flag
        assert kinds[("over_temperature", "warning", "threshold")] == days
        assert kinds[("over_temperature", "fault", "threshold")] == days
        assert kinds[("discharge_over_current", "fault", "threshold")] == days
        assert kinds[("voltage_imbalance", "warning", "bms_flag")] == days
    report(
        f"one site ({RACKS} racks), {days} days every {interval} s: {rows:,} rows, "
        f"median of {repetitions}",
        queries,
        timings,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=int, default=10, help="seconds between rows, part 2")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if not 1 <= args.interval <= 60:
        # every injected excursion must be read at least once: the shortest lasts 2 minutes
        parser.error("--interval: from 1 to 60 seconds")
    with bench_database(args.database_url) as db, connect(db.url) as conn:
        describe_setup(conn)
        bench_sos(conn, args.repetitions)
        bench_protection(conn, args.repetitions, args.interval)


if __name__ == "__main__":
    main()
