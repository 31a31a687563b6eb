"""Web UI: time to a drawn chart in headless Chromium for a 1-day and a 30-day window, against
the engine answering the same aggregate query alone, in the same run; and the page weight.

    .venv/bin/python bench/ui_bench.py [--days 30] [--interval 60] [--repetitions 5]
                                       [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory. It registers a scratch site (one bank of two racks), generates `days` of
demo data at `interval` seconds, serves the app on a free local port and opens the explorer on
rack (1, 1), field rack_soc, for the last day (1-minute aggregates, ~1,440 points) and for the
whole 30 days (1-hour aggregates, ~720 points). A measurement is the time from the navigation's
start to the chart drawn (the page's own performance clock: HTML, scripts, catalog request, data
request, drawing), median of the repetitions after a warm-up, each in a fresh tab. The reference
is the API's aggregate statement for the same window and bucket run directly on the engine.
Page weight: the bytes of every script and style sheet the explorer loads, raw and gzip-compressed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import secrets
import statistics
import sys
import time
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from common import bench_database, drop_scratch_site, engine_version, machine, scratch_site, timed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth.settings import AccessSettings

from api.analytics.aggregates import AggregateRequest, Metric, load_levels, plan, run
from api.app import create_app
from api.auth.tokens import SCOPE_RAW, mint
from api.catalog.model import load_catalog
from api.config import Settings
from api.db import connect, open_pool
from api.demo import generate
from tests.browser import chromium, serve

SEOUL = ZoneInfo("Asia/Seoul")
FIRST_DAY = date(2023, 3, 1)
FIELD = "rack_soc"


def explorer_route(site: int, start: date, end: date) -> str:
    return (
        f"/ui/#explorer?site={site}&component=rack&bank=1&rack=1&fields={FIELD}"
        f"&start={start}T00:00&end={end}T00:00"
    )


# when each step ended, in ms from the navigation's start (the page's resource timings)
MILESTONES_JS = """() => {
  const ends = (test) => Math.max(0, ...performance.getEntriesByType("resource")
    .filter((e) => test(e.name)).map((e) => e.responseEnd));
  return {
    files: ends((n) => /[.](js|css)$/.test(n)),
    catalog: ends((n) => n.endsWith("/api/ess/operating-sites/")),
    data: ends((n) => n.includes("/aggregate/")),
    drawn: performance.now(),
  };
}"""


def time_to_chart(browser, url: str) -> tuple[dict, int, str]:
    """Milestones (ms from navigation start) up to the drawn chart, its points and resolution."""
    page = browser.new_page()
    try:
        page.goto(url)
        chart = page.locator("#chart[data-state=drawn]")
        chart.wait_for(timeout=120_000)
        return (
            page.evaluate(MILESTONES_JS),
            int(chart.get_attribute("data-points")),
            chart.get_attribute("data-resolution"),
        )
    finally:
        page.close()


def page_weight(browser, url: str) -> tuple[int, int, list[str]]:
    """Raw and gzip bytes of the scripts and style sheets the page loads."""
    page = browser.new_page()
    urls: list[str] = []
    page.on(
        "response",
        lambda r: r.request.resource_type in ("script", "stylesheet") and urls.append(r.url),
    )
    page.goto(url)
    page.locator("#chart[data-state=drawn]").wait_for(timeout=120_000)
    page.close()
    bodies = [urllib.request.urlopen(u).read() for u in urls]
    return sum(map(len, bodies)), sum(len(gzip.compress(b)) for b in bodies), urls


def engine_ms(conn, site_id: int, start: date, end: date, width: timedelta, reps: int) -> float:
    """The API's aggregate statement for this window, run directly on the engine."""
    request = AggregateRequest(
        site=load_catalog(conn).require_site(site_id),
        component="rack",
        bank=1,
        rack=1,
        metrics=tuple(Metric(f, FIELD) for f in ("avg", "min", "max")),
        width=width,
        start=datetime_at(start),
        end=datetime_at(end),
    )
    chosen = plan(request, load_levels(conn))
    times, _ = timed(lambda: run(conn, chosen), reps)
    return statistics.median(times) * 1000


def datetime_at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SEOUL)


def bench(days: int, interval: int, repetitions: int, database_url: str | None) -> None:
    with bench_database(database_url) as url, connect(url) as conn:
        print(f"engine: {engine_version(conn)}")
        print(f"machine: {machine()}")
        site_id = scratch_site(conn, "uibench", [2])
        last = FIRST_DAY + timedelta(days=days)
        try:
            began = time.perf_counter()
            generate(
                conn,
                sites=(site_id,),
                start=FIRST_DAY,
                days=days,
                interval=timedelta(seconds=interval),
                compress=False,
            )
            print(f"generated {days} days at {interval} s in {time.perf_counter() - began:.0f} s")
            windows = [
                ("1 day", last - timedelta(days=1), timedelta(minutes=1)),
                (f"{days} days", FIRST_DAY, timedelta(hours=1)),
            ]
            reference = {
                label: engine_ms(conn, site_id, start, last, width, repetitions)
                for label, start, width in windows
            }
            pool = open_pool(url, 1)
            secret = secrets.token_hex(32)
            settings = Settings(access=AccessSettings(jwt_secret=secret, rate_limit_burst=0))
            token = mint(secret, [SCOPE_RAW], None, timedelta(hours=1))
            try:
                with serve(create_app(pool=pool, settings=settings)) as base, chromium() as browser:
                    # the token pasted once, as a person would (sessionStorage)
                    b = browser.new_context()
                    b.add_init_script(f"sessionStorage.setItem('ess.token', {json.dumps(token)})")
                    results = {}
                    for label, start, _ in windows:
                        link = base + explorer_route(site_id, start, last)
                        time_to_chart(b, link)  # warm-up: caches, engine buffers
                        runs = [time_to_chart(b, link) for _ in range(repetitions)]
                        results[label] = runs
                    raw, zipped, assets = page_weight(
                        b, base + explorer_route(site_id, last - timedelta(days=1), last)
                    )
            finally:
                pool.close()
        finally:
            drop_scratch_site(conn, site_id, refresh=(datetime_at(FIRST_DAY), datetime_at(last)))

    print(f"\ntime to a drawn chart, median of {repetitions} after a warm-up (fresh tab each)")
    print("(ms from navigation start: page files loaded, catalog answered, data answered, drawn)")
    header = ("window", "resolution", "points", "files", "catalog", "data", "drawn", "engine")
    print("{:<10}{:>12}{:>8}{:>8}{:>9}{:>8}{:>8}{:>8}{:>8}".format(*header, "ratio"))
    for label, runs in results.items():
        ms = {k: statistics.median(r[0][k] for r in runs) for k in runs[0][0]}
        _, points, resolution = runs[-1]
        print(
            f"{label:<10}{resolution:>12}{points:>8}{ms['files']:>8.0f}{ms['catalog']:>9.0f}"
            f"{ms['data']:>8.0f}{ms['drawn']:>8.0f}{reference[label]:>8.0f}"
            f"{ms['drawn'] / reference[label]:>7.1f}x"
        )
    print(
        f"\npage weight (JS + CSS, {len(assets)} files): {raw / 1000:.1f} KB, "
        f"gzip {zipped / 1000:.1f} KB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=int, default=60, help="seconds between demo rows")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    bench(args.days, args.interval, args.repetitions, args.database_url)


if __name__ == "__main__":
    main()
