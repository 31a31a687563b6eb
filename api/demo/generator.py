"""The demo-data generator's driver: the SQL functions of sql/demo/demo_data.sql do the work
(installed by api/demo/install.py); this module cuts the job into bounded statements, reports
progress and the rate, and refreshes the continuous aggregates afterwards.

    from api.demo import DEFAULT_DEMO, generate, install_demo
    install_demo(conn, REPO_ROOT / "sql")          # once per database, idempotent
    report = generate(conn)                       # the `make run` default
    report = generate(conn, sites=(2,), days=30, interval=timedelta(seconds=1), seed=7)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import psycopg

from api.analytics.protection.store import refresh_protection_events
from api.catalog.model import Catalog, load_catalog
from api.params import local_midnight
from api.refresh import analyze, refresh_aggregates

COMPONENTS = ("rack", "bank", "pcs", "etc")
# Rows one statement may write. The embedded engine runs one statement at a time and blocks
# everything else meanwhile; at about 25,000 rows/s this keeps each statement near 4 s.
MAX_ROWS_PER_STATEMENT = 100_000
MIN_INTERVAL = timedelta(seconds=1)
MAX_INTERVAL = timedelta(hours=1)


class DemoError(ValueError):
    """A bad argument (unknown site, days <= 0, bad interval) or a database not migrated."""


@dataclass(frozen=True)
class DemoSettings:
    sites: tuple[int, ...]
    start: date
    days: int
    interval: timedelta
    seed: int


# The default demo (`make run`): one local day of every reference site at 10 s. 2023-04-10 is in
# the only stretch when all three sites were in service (site 3 from 2023-01, site 1 until
# 2023-04-30). Measured on the embedded engine (2 cores): about 20 s including the refresh.
DEFAULT_DEMO = DemoSettings(
    sites=(1, 2, 3), start=date(2023, 4, 10), days=1, interval=timedelta(seconds=10), seed=1
)


@dataclass(frozen=True)
class Anomaly:
    site_id: int
    bank_id: int
    rack_id: int
    kind: str
    starts_at: datetime
    ends_at: datetime
    cell_position: int | None
    description: str


@dataclass
class SiteReport:
    site_id: int
    start: datetime
    end: datetime
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPONENTS, 0))
    anomalies: list[Anomaly] = field(default_factory=list)


@dataclass
class DemoReport:
    settings: DemoSettings
    sites: list[SiteReport]
    seconds: float  # generating rows (not compressing, not refreshing)
    compressed: list[str]
    refreshed: list[str]
    refresh_seconds: float

    @property
    def rows(self) -> dict[str, int]:
        return {c: sum(site.rows[c] for site in self.sites) for c in COMPONENTS}

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds > 0 else 0.0


def check_settings(settings: DemoSettings, catalog: Catalog) -> None:
    unknown = [s for s in settings.sites if catalog.site(s) is None]
    if unknown:
        known = ", ".join(str(s) for s in sorted(catalog.sites))
        raise DemoError(
            f"--sites: unknown site {', '.join(map(str, unknown))} (sites in the catalog: {known})"
        )
    if not settings.sites:
        raise DemoError("--sites: give at least one site")
    empty = [s for s in settings.sites if not catalog.sites[s].rack_counts]
    if empty:
        raise DemoError(f"--sites: site {', '.join(map(str, empty))} has no banks in ess.site_bank")
    check_days(settings.days)
    check_interval(settings.interval)


def check_days(days: int) -> None:
    if days <= 0:
        raise DemoError(f"--days: must be at least 1, got {days}")


def check_interval(interval: timedelta) -> None:
    if interval % timedelta(seconds=1) or not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise DemoError(
            f"--interval: must be a whole number of seconds from 1 s to 1 hour, "
            f"got {interval.total_seconds():g} s"
        )


def on_grid(t: datetime, origin: datetime, step: timedelta) -> datetime:
    """The first instant of origin + k * step at or after t (as ess.demo_grid does)."""
    return origin + math.ceil((t - origin) / step) * step


def day_slices(
    day: date, tz: ZoneInfo, origin: datetime, step: timedelta, rows_per_tick: int
) -> list[tuple[datetime, datetime]]:
    """A local day cut into equal slices of at most MAX_ROWS_PER_STATEMENT rows, on the step
    grid from `origin`."""
    day_start = local_midnight(day, tz)
    day_end = local_midnight(day + timedelta(days=1), tz)
    parts = max(1, math.ceil((day_end - day_start) / step * rows_per_tick / MAX_ROWS_PER_STATEMENT))
    bounds = [
        on_grid(day_start + (day_end - day_start) * i / parts, origin, step)
        for i in range(parts + 1)
    ]
    return [(lo, hi) for lo, hi in pairwise(bounds) if lo < hi]


@dataclass
class SiteRun:
    """One site's part of a run."""

    report: SiteReport
    tz: ZoneInfo
    rows_per_tick: int


def generate(
    conn: psycopg.Connection,
    *,
    sites: tuple[int, ...] | list[int] = DEFAULT_DEMO.sites,
    start: date = DEFAULT_DEMO.start,
    days: int = DEFAULT_DEMO.days,
    interval: timedelta = DEFAULT_DEMO.interval,
    seed: int = DEFAULT_DEMO.seed,
    refresh: bool = True,
    compress: bool = True,
    progress: Callable[[str], None] | None = None,
) -> DemoReport:
    """Generate `days` local days from `start` for each site (autocommit connection). Idempotent:
    rows already stored are kept, so the same call twice adds nothing.

    Day by day across the sites, so that a chunk is complete once a day is done everywhere; with
    `compress`, chunks written entirely by this run and past the compression policy's horizon are
    then compressed (ess.demo_compressible_chunks), which keeps a long run at 1 s on disk."""
    settings = DemoSettings(tuple(dict.fromkeys(sites)), start, days, interval, seed)
    catalog = load_catalog(conn)
    check_settings(settings, catalog)
    say = progress or (lambda _line: None)
    runs = []
    for site_id in settings.sites:
        site = catalog.sites[site_id]
        tz = ZoneInfo(site.timezone)
        report = SiteReport(
            site_id, local_midnight(start, tz), local_midnight(start + timedelta(days=days), tz)
        )
        plan_anomalies(conn, site_id, report.start, report.end, seed)
        rows_per_tick = sum(site.rack_counts.values()) + len(site.rack_counts) + 2
        runs.append(SiteRun(report, tz, rows_per_tick))
    seconds = 0.0
    compressed: list[str] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        for run in runs:
            seconds += generate_day(conn, run, day, settings, say)
        if compress:
            written_from = max(run.report.start for run in runs)
            written_to = min(local_midnight(day + timedelta(days=1), run.tz) for run in runs)
            compressed += compress_written(conn, written_from, written_to, say)
    for run in runs:
        run.report.anomalies = anomalies(conn, run.report.site_id, run.report.start, run.report.end)
    reports = [run.report for run in runs]
    refreshed: list[str] = []
    refresh_began = time.perf_counter()
    if refresh:  # without, the caller analyzes and refreshes (api/demo/command.py)
        analyze(conn, COMPONENTS)
        refreshed = refresh_aggregates(
            conn, min(r.start for r in reports), max(r.end for r in reports)
        )
        refresh_protection_events(conn, min(r.start for r in reports), max(r.end for r in reports))
    return DemoReport(
        settings, reports, seconds, compressed, refreshed, time.perf_counter() - refresh_began
    )


def generate_day(
    conn: psycopg.Connection,
    run: SiteRun,
    day: date,
    settings: DemoSettings,
    say: Callable[[str], None],
) -> float:
    """One site's local day, slice by slice; returns the seconds it took."""
    report = run.report
    began = last_said = time.perf_counter()
    day_rows = 0
    slices = day_slices(day, run.tz, report.start, settings.interval, run.rows_per_tick)
    for number, (lower, upper) in enumerate(slices, 1):
        for component, inserted in conn.execute(
            "SELECT component, inserted FROM ess.demo_generate_slice("
            "%s::smallint, %s, %s, %s, %s::bigint)",
            (report.site_id, lower, upper, settings.interval, settings.seed),
        ):
            report.rows[component] += inserted
            day_rows += inserted
        now = time.perf_counter()
        if number < len(slices) and now - last_said >= 10:
            say(
                f"site {report.site_id} {day}: {number}/{len(slices)} slices, {day_rows:,} rows"
                f" ({day_rows / (now - began):,.0f} rows/s)"
            )
            last_said = now
    seconds = time.perf_counter() - began
    say(
        f"site {report.site_id} {day}: {day_rows:,} rows in {seconds:.1f} s"
        f" ({day_rows / seconds:,.0f} rows/s)"
    )
    return seconds


def compress_written(
    conn: psycopg.Connection, start: datetime, end: datetime, say: Callable[[str], None]
) -> list[str]:
    """Compress, one statement each, the chunks written entirely inside [start, end)."""
    chunks = conn.execute(
        "SELECT chunk, hypertable FROM ess.demo_compressible_chunks(%s, %s)", (start, end)
    ).fetchall()
    for chunk, hypertable in chunks:
        began = time.perf_counter()
        conn.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => TRUE)", (chunk,))
        say(f"compressed {hypertable} chunk {chunk} in {time.perf_counter() - began:.1f} s")
    return [chunk for chunk, _ in chunks]


def plan_anomalies(
    conn: psycopg.Connection, site_id: int, start: datetime, end: datetime, seed: int
) -> None:
    try:
        conn.execute(
            "SELECT count(*) FROM ess.demo_plan_anomalies(%s::smallint, %s, %s, %s::bigint)",
            (site_id, start, end, seed),
        )
    except psycopg.errors.UndefinedFunction:
        raise DemoError(
            "the database has no demo generator (ess.demo_plan_anomalies): run `ess demo`"
        ) from None


def anomalies(
    conn: psycopg.Connection, site_id: int, start: datetime, end: datetime
) -> list[Anomaly]:
    rows = conn.execute(
        "SELECT site_id, bank_id, rack_id, kind, starts_at, ends_at, cell_position, description"
        " FROM ess.demo_anomaly WHERE site_id = %s AND starts_at < %s AND ends_at > %s"
        " ORDER BY starts_at, kind",
        (site_id, end, start),
    ).fetchall()
    return [Anomaly(*row) for row in rows]
