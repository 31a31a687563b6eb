"""Protection-map episodes and their counts per bucket and level: calls of
ess.protection_episodes and ess.protection_level_counts (sql/functions/protection_map.sql)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
import psycopg
from litestar import Request

from api.analytics.indicator_request import WindowQuery, local
from api.errors import bad_parameter, not_found
from api.params import parse_duration, parse_window

# Episodes are found by scanning every rack row of the site in the window.
MAX_SPAN = timedelta(days=31)
MAX_BUCKETS = 10_000
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
LEVELS = {"1": 1, "2": 2, "warning": 1, "fault": 2}

MAX_GAP_LIMIT = timedelta(hours=1)
EPISODES_SQL = (
    "SELECT *, count(*) OVER () FROM ess.protection_episodes(%s, %s, %s, %s, p_level => %s, "
    "p_code => %s) ORDER BY start_time DESC, bank_id, rack_id, code, level, source, "
    "source_column LIMIT %s OFFSET %s"
)
COUNTS_SQL = "SELECT * FROM ess.protection_level_counts(%s, %s, %s, %s, %s)"


def parse_protection_window(query: WindowQuery, tz: ZoneInfo) -> tuple[datetime, datetime]:
    window = parse_window(
        query.start_time, query.end_time, query.day, tz, require_bounds=True, max_span=MAX_SPAN
    )
    assert window.start is not None and window.end is not None
    return window.start, window.end


def parse_max_gap(value: str | None) -> timedelta | None:
    """None: the SQL default (10 s, or three times the data's interval where it is coarser)."""
    if value is None:
        return None
    gap = parse_duration(value, "max-gap")
    if gap > MAX_GAP_LIMIT:
        raise bad_parameter("max-gap", f"at most {MAX_GAP_LIMIT}")
    return gap


def parse_level(value: str | None) -> int | None:
    if value is None:
        return None
    level = LEVELS.get(value.strip().lower())
    if level is None:
        raise bad_parameter("level", f"{value!r} is not a level: 1 (warning) or 2 (fault)")
    return level


def parse_positive(value: str | None, parameter: str, high: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_parameter(parameter, f"{value!r} is not a whole number") from None
    if not 1 <= number <= high:
        raise bad_parameter(parameter, f"give a number from 1 to {high}")
    return number


@dataclass(frozen=True)
class EpisodeQuery:
    site: int
    tz: ZoneInfo
    start: datetime
    end: datetime
    max_gap: timedelta | None
    level: int | None
    code: int | None
    page: int
    page_size: int


class Episode(msgspec.Struct):
    start_time: datetime
    end_time: datetime | None  # null while ongoing at the window's end
    last_seen: datetime
    ongoing: bool
    operating_site: int
    bank_id: int
    rack_id: int
    error_code: int
    hazard: str
    level: int  # 1 warning, 2 fault
    level_name: str
    peak_value: float | None
    unit: str | None
    readings: int
    source: str  # threshold | bms_flag
    source_column: str
    description_en: str
    description_ko: str


class EpisodePage(msgspec.Struct):
    count: int
    next: str | None
    previous: str | None
    results: list[Episode]


def _page_link(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return str(request.url.with_replacements(query=urlencode(pairs)))


def episode_page(conn: psycopg.Connection, request: Request, query: EpisodeQuery) -> EpisodePage:
    offset = (query.page - 1) * query.page_size
    rows = conn.execute(
        EPISODES_SQL,
        (
            query.site,
            query.start,
            query.end,
            query.max_gap,
            query.level,
            query.code,
            query.page_size,
            offset,
        ),
    ).fetchall()
    if not rows and query.page > 1:
        raise not_found("page", f"page {query.page} is past the last page of this window")
    total = rows[0][-1] if rows else 0
    results = []
    for start, end, last_seen, ongoing, site, *rest, _total in rows:
        results.append(
            Episode(
                local(start, query.tz),
                local(end, query.tz) if end is not None else None,
                local(last_seen, query.tz),
                ongoing,
                site,
                *rest,
            )
        )
    pages = math.ceil(total / query.page_size)
    return EpisodePage(
        count=total,
        next=_page_link(request, query.page + 1) if query.page < pages else None,
        previous=_page_link(request, query.page - 1) if query.page > 1 else None,
        results=results,
    )


class LevelCount(msgspec.Struct):
    time: datetime
    operating_site: int
    level: int
    level_count: int  # episodes that started in the bucket
    row_count: int  # readings in the bucket in which a rule of this level held


def parse_count_bucket(width: str | None, start: datetime, end: datetime) -> timedelta:
    bucket = parse_duration(width or "1 hour", "time-bucket-width")
    if (end - start) / bucket > MAX_BUCKETS:
        raise bad_parameter("time-bucket-width", f"at most {MAX_BUCKETS} buckets per request")
    return bucket


def level_counts(
    conn: psycopg.Connection,
    site: int,
    tz: ZoneInfo,
    start: datetime,
    end: datetime,
    bucket: timedelta,
    max_gap: timedelta | None,
) -> list[LevelCount]:
    rows = conn.execute(COUNTS_SQL, (site, start, end, bucket, max_gap))
    return [LevelCount(local(t, tz), site, *counts) for t, *counts in rows]
