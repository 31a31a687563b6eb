"""Time-bucketed aggregates of the operating data: parse the metrics, plan the source relation
(the coarsest continuous aggregate that answers the request exactly, raw rows otherwise), build
one parameterized SQL statement.

Buckets are always the site's local buckets, `time_bucket(width, t, timezone => site tz)` (or its
fixed-origin equivalent where the zone keeps one UTC offset over the window), on raw rows and on
aggregate rows alike, so the answer does not depend on the source chosen. An aggregate
level (see sql/continuous_aggregates) can serve a request when
- it holds the columns the metrics need (avg needs sum_ and n_, min needs min_, ...),
- its bucket width divides the requested width,
- start-time and end-time fall on its grid, and
- every local bucket boundary in the window falls on its grid: for each UTC offset the site's
  time zone has in the window, local midnight 2000-01-03 (time_bucket's origin) at that offset
  is on the level's grid. With the +09 grid this holds for 1 min and 1 h in any whole-hour zone
  (also across daylight saving changes) and for 1 d only at UTC+09:00.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql

from api.catalog.model import Site
from api.errors import bad_parameter

AGGREGATE_FUNCTIONS = ("avg", "min", "max", "sum", "count", "first", "last")
FILL_MODES = ("none", "null", "locf", "linear")
COMPONENTS = ("bank", "rack", "pcs", "etc")

# Bounds of one request's work (the embedded engine has no statement timeout).
MAX_BUCKETS = 10_000  # buckets per series
MAX_POINTS = 100_000  # buckets x series in one answer
MAX_METRICS = 32
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


@dataclass(frozen=True)
class Metric:
    function: str
    column: str

    @property
    def key(self) -> str:
        """The answer's field name, e.g. avg_rack_soc (the specification's naming)."""
        return f"{self.function}_{self.column}"


@dataclass(frozen=True)
class AggregateLevel:
    """One continuous aggregate: a fixed bucket grid origin + k * width over one component."""

    relation: str
    component: str
    width: timedelta
    origin: datetime
    columns: frozenset[str]

    def serves(self, metric: Metric) -> bool:
        inputs = LEVEL_INPUTS.get(metric.function)
        return inputs is not None and all(p + metric.column in self.columns for p in inputs)

    def on_grid(self, instant: datetime) -> bool:
        return (instant - self.origin) % self.width == timedelta(0)


LEVELS_SQL = """
SELECT relation, component, bucket_width, bucket_origin, column_names
FROM ess.aggregate_level
WHERE real_time
ORDER BY component, bucket_width
"""


def load_levels(conn: psycopg.Connection) -> tuple[AggregateLevel, ...]:
    """Real-time aggregates only: materialized-only ones would miss rows not yet refreshed."""
    return tuple(
        AggregateLevel(relation, component, width, origin, frozenset(columns))
        for relation, component, width, origin, columns in conn.execute(LEVELS_SQL)
    )


@dataclass(frozen=True)
class AggregateRequest:
    site: Site
    component: str
    bank: int | None
    rack: int | None
    metrics: tuple[Metric, ...]
    width: timedelta
    start: datetime
    end: datetime
    fill: str = "none"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def series_count(self) -> int:
        if self.component == "rack":
            if self.rack is not None:
                return 1
            if self.bank is not None:
                return self.site.rack_counts[self.bank]
            return sum(self.site.rack_counts.values())
        if self.component == "bank":
            return 1 if self.bank is not None else len(self.site.rack_counts)
        return 1

    @property
    def series_keys(self) -> tuple[str, ...]:
        """Key columns that vary in the answer (those not fixed by bank= / rack=)."""
        keys = {"rack": ("bank_id", "rack_id"), "bank": ("bank_id",)}.get(self.component, ())
        fixed = {"bank_id": self.bank, "rack_id": self.rack}
        return tuple(k for k in keys if fixed[k] is None)


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


def parse_metrics(value: str | None, site: Site, component: str) -> tuple[Metric, ...]:
    """`avg:rack_soc,max:rack_max_cell_voltage`: functions and the site's numeric columns."""
    if value is None or not value.strip():
        raise bad_parameter("metrics", "give at least one function:column, e.g. avg:rack_soc")
    numeric = tuple(c.name for c in site.columns.get(component, ()) if c.value_type != "json")
    metrics: list[Metric] = []
    for item in (part.strip() for part in value.split(",")):
        function, sep, column = (s.strip().lower() for s in item.partition(":"))
        if not sep or not function or not column:
            raise bad_parameter(
                "metrics", f"{item!r} is not function:column (e.g. avg:{numeric[0]})"
            )
        if function not in AGGREGATE_FUNCTIONS:
            raise bad_parameter(
                "metrics",
                f"unknown function {function!r}; functions: {', '.join(AGGREGATE_FUNCTIONS)}",
            )
        if column not in numeric:
            raise bad_parameter(
                "metrics",
                f"operating site {site.site_id} reports no numeric {component} column "
                f"{column!r}; columns: {', '.join(numeric)}",
            )
        metrics.append(Metric(function, column))
    unique = tuple(dict.fromkeys(metrics))
    if len(unique) > MAX_METRICS:
        raise bad_parameter("metrics", f"at most {MAX_METRICS} metrics per request")
    return unique


def describe(span: timedelta) -> str:
    """7 days, 1 hour, 90 seconds: the largest unit that measures the span exactly."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def utc_offsets(tz: ZoneInfo, start: datetime, end: datetime) -> set[timedelta]:
    """The UTC offsets the zone uses in [start, end), sampled daily (offsets change at most a
    few times a year) and at the last instant."""
    offsets = {(end - timedelta(microseconds=1)).astimezone(tz).utcoffset()}
    instant = start
    while instant < end:
        offsets.add(instant.astimezone(tz).utcoffset())
        instant += timedelta(days=1)
    return offsets  # type: ignore[return-value]


def local_origin(offset: timedelta) -> datetime:
    return LOCAL_ORIGIN.replace(tzinfo=timezone(offset))


def aligned(level: AggregateLevel, request: AggregateRequest, offsets: set[timedelta]) -> bool:
    if request.width % level.width or not (
        level.on_grid(request.start) and level.on_grid(request.end)
    ):
        return False
    return all(level.on_grid(local_origin(offset)) for offset in offsets)


def plan(request: AggregateRequest, levels: tuple[AggregateLevel, ...]) -> Plan:
    """The coarsest level that answers exactly, else raw rows within the raw-row budget."""
    span = request.end - request.start
    buckets = math.ceil(span / request.width)
    if buckets > MAX_BUCKETS:
        raise bad_parameter(
            "time-bucket-width",
            f"{buckets} buckets of {describe(request.width)} in this window; at most "
            f"{MAX_BUCKETS}: "
            "choose a wider bucket or a shorter window",
        )
    if buckets * request.series_count > MAX_POINTS:
        raise bad_parameter(
            "time-bucket-width",
            f"{buckets} buckets x {request.series_count} series; at most {MAX_POINTS} values "
            "per metric: choose a wider bucket, a shorter window or one bank/rack",
        )
    offsets = utc_offsets(request.tz, request.start, request.end)
    fixed_offset = next(iter(offsets)) if len(offsets) == 1 else None
    candidates = [lvl for lvl in levels if lvl.component == request.component]
    unserved = [m for m in request.metrics if not any(lvl.serves(m) for lvl in candidates)]
    candidates = [lvl for lvl in candidates if all(lvl.serves(m) for m in request.metrics)]
    usable = [lvl for lvl in candidates if aligned(lvl, request, offsets)]
    if usable:
        return Plan(request, max(usable, key=lambda lvl: lvl.width), fixed_offset)
    parameter, reason = why_raw(request, candidates, unserved, offsets)
    raw_rows = span.total_seconds() * request.series_count
    if raw_rows > RAW_ROW_BUDGET:
        longest = timedelta(seconds=RAW_ROW_BUDGET // request.series_count)
        raise bad_parameter(
            parameter,
            f"{reason}; raw rows are read for at most {describe(longest)} of "
            f"{request.series_count} series: shorten the window",
        )
    return Plan(request, None, fixed_offset)


def why_raw(
    request: AggregateRequest,
    candidates: list[AggregateLevel],
    unserved: list[Metric],
    offsets: set[timedelta],
) -> tuple[str, str]:
    """The parameter that keeps the aggregates out, and why (for the 400 beyond the budget)."""
    if unserved:
        names = ", ".join(f"{m.function}:{m.column}" for m in unserved)
        return "metrics", f"{names} needs raw rows (the aggregates keep avg/min/max/sum/count)"
    dividing = [lvl for lvl in candidates if request.width % lvl.width == timedelta(0)]
    if not dividing:
        return "time-bucket-width", f"a bucket width of {describe(request.width)} needs raw rows"
    finest = min(dividing, key=lambda lvl: lvl.width)
    for parameter, instant in (("start-time", request.start), ("end-time", request.end)):
        if not finest.on_grid(instant):
            return parameter, f"{parameter} off the {describe(finest.width)} grid needs raw rows"
    return "time-bucket-width", (
        f"the UTC offsets of {request.site.timezone} in this window "
        f"({', '.join(str(o) for o in sorted(offsets))}) do not fit the aggregates' grid"
    )


def _metric_expression(metric: Metric, level: AggregateLevel | None) -> sql.Composable:
    column = sql.Identifier(metric.column)
    if level is None:
        if metric.function in ("first", "last"):
            return sql.SQL("{}({}, ts)").format(sql.SQL(metric.function), column)
        if metric.function in ("avg", "sum"):
            # avg/sum of integer flags are numeric in PostgreSQL: answer floats either way
            return sql.SQL("{}({})::double precision").format(sql.SQL(metric.function), column)
        return sql.SQL("{}({})").format(sql.SQL(metric.function), column)
    stored = {p: sql.Identifier(p + metric.column) for p in LEVEL_INPUTS[metric.function]}
    if metric.function == "avg":
        return sql.SQL("(sum({}) / nullif(sum({}), 0))::double precision").format(
            stored["sum_"], stored["n_"]
        )
    if metric.function == "count":
        return sql.SQL("sum({})::bigint").format(stored["n_"])
    prefix = LEVEL_INPUTS[metric.function][0]
    return sql.SQL("{}({})").format(sql.SQL(metric.function), stored[prefix])


FILL_WRAPPERS = {"locf": "locf", "linear": "interpolate"}


def build_query(chosen: Plan) -> tuple[sql.Composed, dict]:
    """One statement: bucket, the varying series keys, one column per metric."""
    request, level = chosen.request, chosen.level
    time_column = sql.Identifier("bucket" if level else "ts")
    relation = sql.Identifier("ess", level.relation if level else request.component)
    if request.fill == "none" and chosen.fixed_offset is not None:
        bucket = sql.SQL("time_bucket(%(width)s, {}, origin => %(origin)s)").format(time_column)
    elif request.fill == "none":
        bucket = sql.SQL("time_bucket(%(width)s, {}, timezone => %(tz)s)").format(time_column)
    else:
        # time_bucket_gapfill has no origin: the time-zone form gives the same local grid
        bucket = sql.SQL(
            "time_bucket_gapfill(%(width)s, {}, timezone => %(tz)s, "
            "start => %(start)s, finish => %(end)s)"
        ).format(time_column)
    keys = [sql.Identifier(k) for k in request.series_keys]
    metrics = []
    for metric in request.metrics:
        expression = _metric_expression(metric, level)
        if wrapper := FILL_WRAPPERS.get(request.fill):
            expression = sql.SQL("{}({})").format(sql.SQL(wrapper), expression)
        metrics.append(sql.SQL("{} AS {}").format(expression, sql.Identifier(metric.key)))
    filters = [sql.SQL("site_id = %(site)s")]
    if request.bank is not None:
        filters.append(sql.SQL("bank_id = %(bank)s"))
    if request.rack is not None:
        filters.append(sql.SQL("rack_id = %(rack)s"))
    filters.append(sql.SQL("{0} >= %(start)s AND {0} < %(end)s").format(time_column))
    query = sql.SQL(
        "SELECT {bucket} AS time, {columns} FROM {relation} WHERE {filters} "
        "GROUP BY {group} ORDER BY {group}"
    ).format(
        bucket=bucket,
        columns=sql.SQL(", ").join([*keys, *metrics]),
        relation=relation,
        filters=sql.SQL(" AND ").join(filters),
        group=sql.SQL(", ").join([sql.SQL("1"), *keys]),
    )
    params = {
        "width": request.width,
        "tz": request.site.timezone,
        "origin": local_origin(chosen.fixed_offset) if chosen.fixed_offset is not None else None,
        "start": request.start,
        "end": request.end,
        "site": request.site.site_id,
        "bank": request.bank,
        "rack": request.rack,
    }
    return query, params


def run(conn: psycopg.Connection, chosen: Plan) -> list[dict]:
    """Rows as dicts, times in the site's time zone."""
    query, params = build_query(chosen)
    tz = chosen.request.tz
    with conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        rows = cur.fetchall()
    return [
        {"time": row[0].astimezone(tz), **dict(zip(names[1:], row[1:], strict=True))}
        for row in rows
    ]
