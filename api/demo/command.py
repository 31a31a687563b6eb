"""`ess demo [--sites 1,2,3] [--start YYYY-MM-DD] [--days N] [--interval 1s] [--seed N]`.

Installs (or replaces) the demo functions of sql/demo/ first, then generates. Exit codes: 0 done;
2 a bad argument (unknown site, days <= 0, bad interval or date)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import IO

import psycopg

from api.config import Settings
from api.db import connect
from api.demo.generator import (
    COMPONENTS,
    DEFAULT_DEMO,
    DemoError,
    DemoReport,
    check_days,
    check_interval,
    generate,
)
from api.demo.install import install_demo
from api.engine import database
from api.errors import ProblemError
from api.params import parse_date, parse_duration
from api.refresh import analyze, refresh_aggregates

EXIT_OK = 0  # bad arguments raise DemoError: api.cli prints it and exits with 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser(
        "demo",
        help="generate realistic synthetic operating data with injected anomalies (docs/demo.md)",
        description="Generate deterministic synthetic operating data for the given sites: every "
        "column of each site's catalog, a daily PV charge/discharge cycle, about 2.5 % missing "
        "seconds and four injected anomalies (recorded in ess.demo_anomaly). Rows already stored "
        "are kept, so running the same command twice adds nothing.",
    )
    demo.add_argument(
        "--sites",
        default=",".join(map(str, DEFAULT_DEMO.sites)),
        help="comma-separated site ids (default: %(default)s)",
    )
    demo.add_argument(
        "--start",
        default=DEFAULT_DEMO.start.isoformat(),
        help="first local day, YYYY-MM-DD (default: %(default)s)",
    )
    demo.add_argument(
        "--days", type=int, default=DEFAULT_DEMO.days, help="local days (default: %(default)s)"
    )
    demo.add_argument(
        "--interval",
        default=f"{int(DEFAULT_DEMO.interval.total_seconds())}s",
        help="time between rows, 1s to 1hour (default: %(default)s)",
    )
    demo.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_DEMO.seed,
        help="same seed, same data (default: %(default)s)",
    )
    demo.add_argument(
        "--no-compress",
        dest="compress",
        action="store_false",
        help="do not compress the chunks the run writes entirely (past the compression policy's "
        "horizon, as the policy would on a server)",
    )
    demo.add_argument(
        "--no-refresh",
        dest="refresh",
        action="store_false",
        help="do not analyze the tables nor refresh the continuous aggregates afterwards",
    )


def parse_sites(text: str) -> tuple[int, ...]:
    try:
        sites = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise DemoError(f"--sites: {text!r} is not a list of site ids (e.g. 1,2,3)") from None
    if not sites:
        raise DemoError("--sites: give at least one site")
    return sites


def parse_arguments(args: argparse.Namespace) -> tuple[tuple[int, ...], date, timedelta]:
    """Everything that can be checked before connecting to the database."""
    sites = parse_sites(args.sites)
    try:
        start = parse_date(args.start, "--start")
        interval = parse_duration(args.interval, "--interval")
    except ProblemError as exc:
        raise DemoError(exc.detail) from None
    check_days(args.days)
    check_interval(interval)
    return sites, start, interval


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    parse_arguments(args)  # a bad argument fails before an engine is started
    with database(settings) as url, connect(url) as conn:
        install_demo(conn, settings.sql_dir)
        return run(conn, args)


def run(conn: psycopg.Connection, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    sites, start, interval = parse_arguments(args)
    report = generate(
        conn,
        sites=sites,
        start=start,
        days=args.days,
        interval=interval,
        seed=args.seed,
        refresh=args.refresh,
        compress=args.compress,
        progress=lambda line: print(f"ess demo: {line}", file=out, flush=True),
    )
    print_report(report, out)
    return EXIT_OK


# `make run`'s week of history before the detailed day, for the forecasts to learn from: coarse
# (one row per 5 minutes) so that it costs less than the detailed day (docs/forecasting.md)
HISTORY_DAYS = 7
HISTORY_INTERVAL = timedelta(minutes=5)


def generate_run_demo(
    conn: psycopg.Connection, progress: Callable[[str], None]
) -> tuple[DemoReport, DemoReport]:
    """`make run`'s demo: the detailed day, then the week of history before it, then one ANALYZE
    and one refresh of the continuous aggregates over both (each costs 10-20 s on the embedded
    engine, however few rows were added). The history report carries them."""
    demo = DEFAULT_DEMO
    day = generate(conn, refresh=False, progress=progress)
    history = generate(
        conn,
        sites=demo.sites,
        start=demo.start - timedelta(days=HISTORY_DAYS),
        days=HISTORY_DAYS,
        interval=HISTORY_INTERVAL,
        seed=demo.seed,
        refresh=False,
        progress=progress,
    )
    began = time.perf_counter()
    analyze(conn, COMPONENTS)
    sites = history.sites + day.sites
    history.refreshed = refresh_aggregates(
        conn, min(s.start for s in sites), max(s.end for s in sites)
    )
    history.refresh_seconds = time.perf_counter() - began
    return day, history


def print_report(report: DemoReport, out: IO[str]) -> None:
    rows = report.rows
    print(
        f"ess demo: {report.total_rows:,} rows in {report.seconds:.1f} s "
        f"({report.rows_per_second:,.0f} rows/s): "
        + ", ".join(f"{component} {count:,}" for component, count in rows.items()),
        file=out,
    )
    if report.total_rows == 0:
        print("ess demo: nothing new (these rows were already stored)", file=out)
    for site in report.sites:
        for anomaly in site.anomalies:
            local = anomaly.starts_at.astimezone(site.start.tzinfo)
            print(
                f"ess demo: site {site.site_id} anomaly {anomaly.kind} from "
                f"{local:%Y-%m-%d %H:%M}: {anomaly.description}",
                file=out,
            )
    if report.compressed:
        print(f"ess demo: compressed {len(report.compressed)} chunk(s)", file=out)
    if report.refreshed:
        print(
            f"ess demo: refreshed {len(report.refreshed)} continuous aggregate(s) in "
            f"{report.refresh_seconds:.1f} s",
            file=out,
        )
