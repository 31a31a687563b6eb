"""Request parsing shared by the safety indicators (SoS, ExSoS, SoCP, SoL, protection map): the
series a URL names, a bounded time window with a bucket width, and site-local output times.

Each request's work is bounded here, before any SQL runs (the embedded engine has no statement
timeout): windows that read raw 1 Hz rows are short, windows that read the continuous aggregates
may be long, and the number of (series x bucket) items of one answer is capped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.catalog.model import Catalog, Site
from api.errors import bad_parameter
from api.params import parse_duration, parse_window

MINUTE = timedelta(minutes=1)
# Sub-minute buckets (or windows off the minute grid) read the raw rows: one day at most.
RAW_MAX_SPAN = timedelta(days=1)
# Whole-minute buckets on the minute grid read the 1-minute (or 1-hour) continuous aggregate.
AGGREGATE_MAX_SPAN = timedelta(days=92)
MAX_ITEMS = 100_000


@dataclass(frozen=True)
class Series:
    """The banks and racks a URL names: a bank (or all banks) and a rack (or all its racks)."""

    site: Site
    bank: int | None
    rack: int | None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def rack_count(self) -> int:
        if self.rack is not None:
            return 1
        if self.bank is not None:
            return self.site.rack_counts[self.bank]
        return sum(self.site.rack_counts.values())

    def bank_count(self) -> int:
        return 1 if self.bank is not None else len(self.site.rack_counts)


def series_of(
    catalog: Catalog, site: int, bank: int | None = None, rack: int | None = None
) -> Series:
    """Validate the path against the catalog (404 naming the site, bank or rack)."""
    found = catalog.require_site(site)
    if rack is not None:
        found.require_rack(bank, rack)
    elif bank is not None:
        found.require_bank(bank)
    return Series(found, bank, rack)


@dataclass(frozen=True)
class WindowQuery:
    """The window as the request gives it: start-time and end-time, or date (one local day)."""

    start_time: str | None
    end_time: str | None
    day: str | None


@dataclass(frozen=True)
class BucketWindow:
    start: datetime
    end: datetime
    width: timedelta

    @property
    def buckets(self) -> int:
        return math.ceil((self.end - self.start) / self.width)


def reads_aggregate(start: datetime, end: datetime, width: timedelta) -> bool:
    """Whether the SQL functions can read the minute aggregate (see aggregate_source.sql): a
    whole-minute width over a window that starts and ends on whole minutes."""
    return width % MINUTE == timedelta(0) and all(
        t.second == 0 and t.microsecond == 0 for t in (start, end)
    )


def parse_bucket_window(
    query: WindowQuery,
    width: str | None,
    tz: ZoneInfo,
    series_count: int,
    default_width: str = "1 minute",
) -> BucketWindow:
    window = parse_window(
        query.start_time,
        query.end_time,
        query.day,
        tz,
        require_bounds=True,
        max_span=AGGREGATE_MAX_SPAN,
    )
    start, end = window.start, window.end
    assert start is not None and end is not None
    bucket = parse_duration(width or default_width, "time-bucket-width")
    if not reads_aggregate(start, end, bucket) and end - start > RAW_MAX_SPAN:
        raise bad_parameter(
            "end-time",
            f"a window read from the raw rows may span at most {RAW_MAX_SPAN.days} day: use a "
            "bucket width of whole minutes and a window starting and ending on whole minutes (up "
            f"to {AGGREGATE_MAX_SPAN.days} days), or a shorter window",
        )
    found = BucketWindow(start, end, bucket)
    if found.buckets * series_count > MAX_ITEMS:
        raise bad_parameter(
            "time-bucket-width",
            f"{found.buckets} buckets x {series_count} series exceed {MAX_ITEMS} items: "
            "use a wider bucket or a shorter window",
        )
    return found


def local(instant: datetime, tz: ZoneInfo) -> datetime:
    """An output time in the site's time zone (ISO 8601 with its offset once encoded)."""
    return instant.astimezone(tz)
