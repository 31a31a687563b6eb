"""Hourly average SoC of one rack over 30 days: continuous aggregate against the same
time_bucket over the raw rows, on the same engine, in the same run.

    .venv/bin/python bench/aggregate_bench.py [--days 30] [--repetitions 5] [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory and throws it away at the end; with one, it removes its scratch site's rows
afterwards. It registers a scratch site with one rack, generates `days` x 86,400 rows at 1 Hz
server-side (INSERT ... SELECT generate_series, one day per statement), refreshes the aggregates
as a load does, then runs the API's own statement for
`avg-rack-soc/?time-bucket-width=1hour` over the whole window from each source:
ess.rack_1h (the planner's choice), ess.rack_1m and the raw rows (ess.rack), all with the
fixed-origin time_bucket the API uses for a zone without daylight saving, plus the raw rows with
the time-zone-aware time_bucket a daylight-saving zone needs. All answers must agree; it prints
the median and best of the repetitions and the speed-up against the raw rows, and the cost of
the planner's question (which level answers: ess.aggregate_fit) against a bare SELECT 1.
"""

from __future__ import annotations

import argparse
import time
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

from api.analytics.aggregates.parse import AggregateRequest, Metric
from api.analytics.aggregates.plan import Plan, plan
from api.analytics.aggregates.sql import aggregate_levels, build_query, stored_levels
from api.catalog.model import load_catalog
from api.db import connect, fetch
from api.refresh import refresh_aggregates

SEOUL = ZoneInfo("Asia/Seoul")
START = datetime(2021, 3, 1, tzinfo=SEOUL)

# A day of one rack at 1 Hz: a charge/discharge cycle with plausible, quantised values.
DAY_SQL = """
INSERT INTO ess.rack (
    ts, site_id, bank_id, rack_id, rack_soc, rack_soh, rack_voltage, rack_current,
    rack_max_cell_voltage, rack_min_cell_voltage, rack_cell_voltage_gap,
    rack_max_cell_temperature, rack_min_cell_temperature, rack_cell_temperature_gap
)
SELECT
    ts, %(site)s, 1, 1,
    round((45 + 44 * sin(phase))::numeric, 1),
    100,
    round((880 + 80 * sin(phase))::numeric, 1),
    round((60 * cos(phase))::numeric, 1),
    round((3.75 + 0.3 * sin(phase) + 0.02)::numeric, 3),
    round((3.75 + 0.3 * sin(phase) - 0.02)::numeric, 3),
    0.04,
    round((31 + 5 * sin(phase) + 4)::numeric, 1),
    round((31 + 5 * sin(phase) - 4)::numeric, 1),
    8
FROM generate_series(%(day)s::timestamptz, %(day)s::timestamptz + interval '86399 seconds',
                     interval '1 second') AS ts,
     LATERAL (SELECT 2 * pi() * extract(epoch FROM ts) / 86400 AS phase) AS p
"""


def bench(url: str, days: int, repetitions: int) -> None:
    end = START + timedelta(days=days)
    with connect(url) as conn:
        describe_setup(conn)
        site_id = scratch_site(conn, "aggbench", (1,))
        try:
            began = time.perf_counter()
            for day in range(days):
                conn.execute(DAY_SQL, {"site": site_id, "day": START + timedelta(days=day)})
            rows = days * 86_400
            seconds = time.perf_counter() - began
            print(f"generated {rows:,} rack rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
            began = time.perf_counter()
            refresh_aggregates(conn, START, end)
            print(
                f"refreshed every aggregate over the {days} days in "
                f"{time.perf_counter() - began:.1f} s"
            )

            site = load_catalog(conn).require_site(site_id)
            request = AggregateRequest(
                site=site,
                component="rack",
                bank=1,
                rack=1,
                metrics=(Metric("avg", "rack_soc"),),
                width=timedelta(hours=1),
                start=START,
                end=end,
            )
            stored = stored_levels(conn)
            verdicts = aggregate_levels(conn, request, stored)
            levels = {level.relation: level for level in verdicts}
            chosen = plan(request, verdicts)
            sources = [
                (f"{chosen.source} (planner's choice)", chosen),
                ("ess.rack_1m", Plan(request, levels["rack_1m"], chosen.fixed_offset)),
                ("ess.rack (raw rows)", Plan(request, None, chosen.fixed_offset)),
                # what a site in a daylight-saving zone gets: the time-zone-aware time_bucket
                ("ess.rack, time-zone-aware buckets", Plan(request, None, None)),
            ]
            results = {}
            timings = {}
            for label, source in sources:
                timings[label], results[label] = timed(
                    lambda s=source: fetch(conn, build_query(s), dict, request.tz),
                    repetitions,
                )
            # the plan's question to the database (ess.aggregate_fit) against the
            # engine's bare round trip
            timings["planner's question (levels)"], question = timed(
                lambda: aggregate_levels(conn, request, stored), repetitions
            )
            timings["SELECT 1 (round trip)"], _ = timed(
                lambda: conn.execute("SELECT 1").fetchone(), repetitions
            )
            assert [level.relation for level in question] == ["rack_1m", "rack_1h", "rack_1d"]
        finally:
            drop_scratch_site(conn, site_id, refresh=(START, end))

    reference = results["ess.rack (raw rows)"]
    assert len(reference) == days * 24
    for label, items in results.items():  # the answers of the sources
        worst = max(
            abs(a["avg_rack_soc"] - b["avg_rack_soc"])
            for a, b in zip(items, reference, strict=True)
        )
        assert worst < 1e-9, f"{label} differs from the raw rows by {worst}"

    raw_ms = median_ms(timings["ess.rack (raw rows)"])
    print(
        f"\nhourly average SoC, one rack, {days} days ({len(reference)} buckets), "
        f"median of {repetitions} after a warm-up; every source gives the same answer"
    )
    print(f"{'source':<40}{'median ms':>12}{'best ms':>12}{'speed-up':>10}")
    for label, times in timings.items():
        print(
            f"{label:<40}{median_ms(times):>12.1f}{min(times) * 1000:>12.1f}"
            f"{raw_ms / median_ms(times):>9.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with bench_database(args.database_url) as db:
        bench(db.url, args.days, args.repetitions)


if __name__ == "__main__":
    main()
