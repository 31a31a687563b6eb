"""SQL step of the aggregates: the plan's question to the database about its levels
(aggregate_levels), and the planned statement (build_query: psycopg.sql.Composed, identifiers
from the catalog, values as parameters; pure, tested on its own in tests/test_aggregates.py)."""

from __future__ import annotations

import msgspec
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from api.analytics.aggregates.parse import AggregateRequest, Metric
from api.analytics.aggregates.plan import (
    LEVEL_INPUTS,
    AggregateLevel,
    Plan,
    StoredLevel,
    local_origin,
)
from api.db import Statement, fetch, sql_text

STORED_LEVELS_SQL = """
SELECT relation, component, bucket_width, bucket_origin, column_names
FROM ess.aggregate_level
WHERE real_time
"""
LEVELS_SQL = sql_text(__file__, "levels.sql")


def levels_statement(request: AggregateRequest, levels: list[StoredLevel]) -> Statement:
    return LEVELS_SQL, {
        "relations": [level.relation for level in levels],
        "widths": [level.bucket_width for level in levels],
        "origins": [level.bucket_origin for level in levels],
        "bucket_width": request.width,
        "window_start": request.start,
        "window_end": request.end,
        "tz": request.site.timezone,
    }


def aggregate_levels(
    db: ConnectionPool | psycopg.Connection, request: AggregateRequest, stored: list[StoredLevel]
) -> list[AggregateLevel]:
    """The plan's question to the database: which level of the component fits this request
    (and why not). The level catalog is read once (stored_levels), the rule asked each time."""
    levels = [level for level in stored if level.component == request.component]
    verdicts = fetch(db, levels_statement(request, levels), AggregateLevel)
    columns = {level.relation: level.column_names for level in levels}
    return [msgspec.structs.replace(v, column_names=columns[v.relation]) for v in verdicts]


def stored_levels(db: ConnectionPool | psycopg.Connection) -> list[StoredLevel]:
    return fetch(db, (STORED_LEVELS_SQL, {}), StoredLevel)


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


def build_query(chosen: Plan) -> Statement:
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
