"""Plan step of the aggregates: bound the work, then pick the source from the database's verdict
on each continuous aggregate level (sql.aggregate_levels): the coarsest level that fits the
request and holds the inputs of every metric, else raw rows within the raw-row budget."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import msgspec

from api.analytics.aggregates.parse import AggregateRequest, Metric
from api.errors import bad_parameter

# Bounds of one request's work (the embedded engine has no statement timeout).
MAX_BUCKETS = 10_000  # buckets per series
MAX_POINTS = 100_000  # buckets x series in one answer
# Raw rows read when no aggregate level serves the request, counted at 1 Hz per series:
# one rack over a week, or 17 racks over 10 hours.
RAW_ROW_BUDGET = 7 * 86_400

# Columns of an aggregate level each function needs, by prefix of the measured column.
LEVEL_INPUTS = {
    "avg": ("sum_", "n_"),
    "sum": ("sum_",),
    "count": ("n_",),
    "min": ("min_",),
    "max": ("max_",),
}

# The local grid origin of time_bucket(width, t, timezone => tz): Monday 2000-01-03 00:00.
LOCAL_ORIGIN = datetime(2000, 1, 3)


class StoredLevel(msgspec.Struct, frozen=True):
    """A real-time continuous aggregate as ess.aggregate_level lists it (materialized-only
    ones would miss rows not yet refreshed); they change only by migration."""

    relation: str
    component: str
    bucket_width: timedelta
    bucket_origin: datetime
    column_names: frozenset[str]


class AggregateLevel(msgspec.Struct, frozen=True):
    """A level of the component and the database's verdict on the request (ess.aggregate_fit),
    with the zone's UTC offsets in the window."""

    relation: str
    bucket_width: timedelta
    divides: bool  # its width divides the requested width
    start_on_grid: bool
    end_on_grid: bool
    offsets_on_grid: bool  # local midnight is on its grid at every offset in the window
    utc_offsets: tuple[timedelta, ...]
    fixed_offset: timedelta | None  # the zone's offset if it is the same over the window
    column_names: frozenset[str] = frozenset()  # from its StoredLevel

    @property
    def fits(self) -> bool:
        return self.divides and self.start_on_grid and self.end_on_grid and self.offsets_on_grid

    def serves(self, metric: Metric) -> bool:
        inputs = LEVEL_INPUTS.get(metric.function)
        return inputs is not None and all(p + metric.column in self.column_names for p in inputs)


@dataclass(frozen=True)
class Plan:
    request: AggregateRequest
    level: AggregateLevel | None  # None: raw rows
    # the site's UTC offset when it is the same over the whole window (always for Asia/Seoul):
    # buckets are then a fixed-origin time_bucket, about twice as fast on raw rows as the
    # time-zone-aware one (measured in bench/aggregate_bench.py), with the same grid
    fixed_offset: timedelta | None = None

    @property
    def source(self) -> str:
        return f"ess.{self.level.relation if self.level else self.request.component}"


def describe(span: timedelta) -> str:
    """7 days, 1 hour, 90 seconds: the largest unit that measures the span exactly."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def local_origin(offset: timedelta) -> datetime:
    return LOCAL_ORIGIN.replace(tzinfo=timezone(offset))


def bound_work(request: AggregateRequest) -> None:
    buckets = math.ceil((request.end - request.start) / request.width)
    if buckets > MAX_BUCKETS:
        raise bad_parameter(
            "time-bucket-width",
            f"{buckets} buckets of {describe(request.width)} in this window; at most "
            f"{MAX_BUCKETS}: choose a wider bucket or a shorter window",
        )
    if buckets * request.series_count > MAX_POINTS:
        raise bad_parameter(
            "time-bucket-width",
            f"{buckets} buckets x {request.series_count} series; at most {MAX_POINTS} values "
            "per metric: choose a wider bucket, a shorter window or one bank/rack",
        )


def plan(request: AggregateRequest, levels: list[AggregateLevel]) -> Plan:
    """The coarsest level that answers exactly, else raw rows within the raw-row budget."""
    bound_work(request)
    fixed_offset = levels[0].fixed_offset if levels else None
    unserved = [m for m in request.metrics if not any(lvl.serves(m) for lvl in levels)]
    candidates = [lvl for lvl in levels if all(lvl.serves(m) for m in request.metrics)]
    usable = [lvl for lvl in candidates if lvl.fits]
    if usable:
        return Plan(request, max(usable, key=lambda lvl: lvl.bucket_width), fixed_offset)
    span = request.end - request.start
    if span.total_seconds() * request.series_count > RAW_ROW_BUDGET:
        parameter, reason = why_raw(request, candidates, unserved)
        longest = timedelta(seconds=RAW_ROW_BUDGET // request.series_count)
        raise bad_parameter(
            parameter,
            f"{reason}; raw rows are read for at most {describe(longest)} of "
            f"{request.series_count} series: shorten the window",
        )
    return Plan(request, None, fixed_offset)


def why_raw(
    request: AggregateRequest, candidates: list[AggregateLevel], unserved: list[Metric]
) -> tuple[str, str]:
    """The parameter that keeps the aggregates out, and why (for the 400 beyond the budget)."""
    if unserved:
        names = ", ".join(f"{m.function}:{m.column}" for m in unserved)
        return "metrics", f"{names} needs raw rows (the aggregates keep avg/min/max/sum/count)"
    dividing = [lvl for lvl in candidates if lvl.divides]
    if not dividing:
        return "time-bucket-width", f"a bucket width of {describe(request.width)} needs raw rows"
    finest = min(dividing, key=lambda lvl: lvl.bucket_width)
    width = describe(finest.bucket_width)
    if not finest.start_on_grid:
        return "start-time", f"start-time off the {width} grid needs raw rows"
    if not finest.end_on_grid:
        return "end-time", f"end-time off the {width} grid needs raw rows"
    return "time-bucket-width", (
        f"the UTC offsets of {request.site.timezone} in this window "
        f"({', '.join(str(o) for o in sorted(finest.utc_offsets))}) do not fit the aggregates' "
        "grid"
    )
