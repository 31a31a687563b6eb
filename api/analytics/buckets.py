"""Parse and plan of the bucketed safety indicators (SoS, ExSoS): a bounded window and a bucket
width, with the request's work bounded before the indicator's SQL runs (the embedded engine has
no statement timeout): windows read from the raw 1 Hz rows are short, windows read from the
continuous aggregates may be long, and the (series x bucket) items of one answer are capped.

Whether the minute aggregate serves a window is the database's rule (ess.aggregate_serves,
sql/functions/aggregate_source.sql), asked only when the window is longer than a raw one may be.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from psycopg_pool import ConnectionPool

from api.db import fetch
from api.errors import bad_parameter
from api.params import WINDOW, bucket_width_doc, parse_duration, window_of

BUCKET_PARAMETERS = (*WINDOW, "time-bucket-width")
DEFAULT_WIDTH = "1 minute"
# Sub-minute buckets (or windows off the minute grid) read the raw rows: one day at most.
RAW_MAX_SPAN = timedelta(days=1)
# Whole-minute buckets on the minute grid read the 1-minute (or 1-hour) continuous aggregate.
AGGREGATE_MAX_SPAN = timedelta(days=92)
MAX_ITEMS = 100_000

BUCKET_DOCS = bucket_width_doc(
    DEFAULT_WIDTH,
    " Whole minutes on a minute-aligned window read the continuous aggregates (up to 92 days); "
    "anything finer reads the raw rows (up to 1 day). The worst case within each bucket counts.",
)
MINUTE_AGGREGATE_SQL = (
    "SELECT ess.aggregate_serves('rack_1m', %(bucket_width)s, %(window_start)s, "
    "%(window_end)s, %(tz)s) AS serves"
)


@dataclass(frozen=True)
class BucketWindow:
    start: datetime
    end: datetime
    width: timedelta

    @property
    def buckets(self) -> int:
        return math.ceil((self.end - self.start) / self.width)

    def params(self) -> dict[str, object]:
        return {"window_start": self.start, "window_end": self.end, "bucket_width": self.width}


class Serves(msgspec.Struct):
    serves: bool


def parse_bucket_window(values: dict[str, str], tz: ZoneInfo) -> BucketWindow:
    window = window_of(values, tz, require_bounds=True, max_span=AGGREGATE_MAX_SPAN)
    assert window.start is not None and window.end is not None
    width = parse_duration(values.get("time-bucket-width") or DEFAULT_WIDTH, "time-bucket-width")
    return BucketWindow(window.start, window.end, width)


def reads_aggregate(pool: ConnectionPool, window: BucketWindow, tz: ZoneInfo) -> bool:
    """Whether the indicator's SQL reads the minute aggregate (asked only of long windows)."""
    if window.end - window.start <= RAW_MAX_SPAN:
        return False
    statement = (MINUTE_AGGREGATE_SQL, {**window.params(), "tz": tz.key})
    return fetch(pool, statement, Serves)[0].serves


def plan_buckets(window: BucketWindow, series_count: int, from_aggregate: bool) -> BucketWindow:
    if not from_aggregate and window.end - window.start > RAW_MAX_SPAN:
        raise bad_parameter(
            "end-time",
            f"a window read from the raw rows may span at most {RAW_MAX_SPAN.days} day: use a "
            "bucket width of whole minutes and a window starting and ending on whole minutes (up "
            f"to {AGGREGATE_MAX_SPAN.days} days), or a shorter window",
        )
    if window.buckets * series_count > MAX_ITEMS:
        raise bad_parameter(
            "time-bucket-width",
            f"{window.buckets} buckets x {series_count} series exceed {MAX_ITEMS} items: "
            "use a wider bucket or a shorter window",
        )
    return window


def bucket_window(
    pool: ConnectionPool, values: dict[str, str], tz: ZoneInfo, series_count: int
) -> BucketWindow:
    """parse -> (ask the source of long windows) -> plan."""
    window = parse_bucket_window(values, tz)
    return plan_buckets(window, series_count, reads_aggregate(pool, window, tz))
