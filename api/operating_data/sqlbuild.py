"""SQL step: a planned selection -> one statement (psycopg.sql.Composed) and its parameters.

Identifiers come only from the Dataset (that is, from the catalog) and are quoted with
sql.Identifier; every value is a named parameter. Nothing here touches a connection, so each
statement can be checked on its own (tests/test_operating_data_sqlbuild.py).

Row statements format the time column as ISO 8601 text with the offset of the session's time
zone (the caller sets it per transaction), so JSON pages and CSV files carry the same string.
JSON rows are written by the database too (json_rows_query), with every value printed by the
same output function as in the CSV.
"""

from __future__ import annotations

from psycopg import sql

from api.operating_data.cursor import AFTER, Cursor
from api.operating_data.dataset import TIME_NAME
from api.operating_data.plan import MinuteCounts, Selection
from api.params import Window

# 2022-05-10T00:00:01+09:00, with microseconds (all six digits, as Python's isoformat) only when
# there are some: RFC 3339, as the spec's files had it; the plain timestamptz text would give
# "2022-05-10 00:00:01+09". A whole second, nearly every row, is printed by timestamptz's JSON
# output, which costs half of to_char's
_ISO_TIME = sql.SQL(
    "CASE WHEN {ts} = {ts}::timestamptz(0) THEN btrim(to_json({ts})::text, '\"') "
    "ELSE to_char({ts}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM') END"
)

Statement = tuple[sql.Composed, dict[str, object]]


def _relation(selection: Selection) -> sql.Identifier:
    return sql.Identifier(*selection.dataset.relation)


def _ts(selection: Selection) -> sql.Identifier:
    return sql.Identifier(selection.dataset.time_source)


def _outputs(selection: Selection) -> sql.Composed:
    time_text = _ISO_TIME.format(ts=_ts(selection))
    items = [sql.SQL("{} AS {}").format(time_text, sql.Identifier(TIME_NAME))]
    items += [
        sql.SQL("{} AS {}").format(sql.Identifier(c.source), sql.Identifier(c.name))
        for c in selection.columns
    ]
    return sql.SQL(", ").join(items)


def _series_conditions(selection: Selection, params: dict[str, object]) -> list[sql.Composable]:
    dataset = selection.dataset
    params["site"] = dataset.site.site_id
    conditions: list[sql.Composable] = [
        sql.SQL("{} = {}").format(sql.Identifier(dataset.site_column), sql.Placeholder("site"))
    ]
    for key, value in selection.fixed:
        params[key] = value
        conditions.append(sql.SQL("{} = {}").format(sql.Identifier(key), sql.Placeholder(key)))
    if "bank_id" in selection.order_keys:
        # every bank of the catalog: the (site, bank, ts) index then serves a time range per
        # bank; without it the planner may read all of the site's index entries per slice
        params["banks"] = sorted(dataset.site.rack_counts)
        conditions.append(
            sql.SQL("{} = ANY({}::smallint[])").format(
                sql.Identifier("bank_id"), sql.Placeholder("banks")
            )
        )
    return conditions


def _window_conditions(
    selection: Selection, window: Window, params: dict[str, object]
) -> list[sql.Composable]:
    conditions: list[sql.Composable] = []
    if window.start is not None:
        params["start"] = window.start
        conditions.append(sql.SQL("{} >= {}").format(_ts(selection), sql.Placeholder("start")))
    if window.end is not None:
        params["end"] = window.end
        conditions.append(sql.SQL("{} < {}").format(_ts(selection), sql.Placeholder("end")))
    return conditions


def _keyset_conditions(
    selection: Selection, cursor: Cursor, params: dict[str, object]
) -> list[sql.Composable]:
    """Rows strictly after (or before) the cursor's position in (time, keys...) order. The
    plain time bound is redundant but lets TimescaleDB skip chunks, which it cannot do from a
    row comparison."""
    after = cursor.direction == AFTER
    ts = _ts(selection)
    params["cursor_ts"] = cursor.position.ts
    placeholders = [sql.Placeholder("cursor_ts")]
    columns: list[sql.Composable] = [ts]
    for key, value in zip(selection.order_keys, cursor.position.keys, strict=True):
        params[f"cursor_{key}"] = value
        placeholders.append(sql.Placeholder(f"cursor_{key}"))
        columns.append(sql.Identifier(key))
    strict, inclusive = (sql.SQL(">"), sql.SQL(">=")) if after else (sql.SQL("<"), sql.SQL("<="))
    conditions: list[sql.Composable] = []
    if len(columns) > 1:
        conditions.append(
            sql.SQL("({}) {} ({})").format(
                sql.SQL(", ").join(columns), strict, sql.SQL(", ").join(placeholders)
            )
        )
        conditions.append(sql.SQL("{} {} {}").format(ts, inclusive, placeholders[0]))
    else:
        conditions.append(sql.SQL("{} {} {}").format(ts, strict, placeholders[0]))
    return conditions


def _where(conditions: list[sql.Composable]) -> sql.Composed:
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(conditions)


def _order(selection: Selection, descending: bool = False) -> sql.Composed:
    direction = sql.SQL(" DESC" if descending else "")
    columns = [_ts(selection), *(sql.Identifier(k) for k in selection.order_keys)]
    return sql.SQL(" ORDER BY ") + sql.SQL(", ").join(c + direction for c in columns)


def rows_query(
    selection: Selection,
    *,
    window: Window | None = None,
    cursor: Cursor | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Statement:
    """The selection's rows in page order; with a BEFORE cursor in reverse order (the caller
    turns them around). `window` narrows the selection's own window (a download slice)."""
    params: dict[str, object] = {}
    conditions = _series_conditions(selection, params)
    conditions += _window_conditions(selection, window or selection.window, params)
    if cursor is not None:
        conditions += _keyset_conditions(selection, cursor, params)
    query = sql.SQL("SELECT {} FROM {}").format(_outputs(selection), _relation(selection))
    query += _where(conditions)
    query += _order(selection, descending=cursor is not None and cursor.direction != AFTER)
    if limit is not None:
        params["limit"] = limit
        query += sql.SQL(" LIMIT {}").format(sql.Placeholder("limit"))
    if offset:
        params["offset"] = offset
        query += sql.SQL(" OFFSET {}").format(sql.Placeholder("offset"))
    return query, params


def latest_query(selection: Selection) -> Statement:
    """The most recent row in the window of every series the selection spans (one row per
    rack for a bank's racks, one row otherwise)."""
    params: dict[str, object] = {}
    conditions = _series_conditions(selection, params)
    conditions += _window_conditions(selection, selection.window, params)
    order = sql.SQL(" ORDER BY {} DESC LIMIT 1").format(_ts(selection))
    if not selection.order_keys:
        query = sql.SQL("SELECT {} FROM {}").format(_outputs(selection), _relation(selection))
        return query + _where(conditions) + order, params
    (key,) = selection.order_keys  # the API asks this only of one bank's racks
    fixed = dict(selection.fixed)
    params["series"] = list(range(1, selection.dataset.site.rack_counts[fixed["bank_id"]] + 1))
    conditions.append(sql.SQL("{} = series.key").format(sql.Identifier(key)))
    inner = sql.SQL("SELECT {} FROM {}").format(_outputs(selection), _relation(selection))
    query = sql.SQL(
        "SELECT latest.* FROM unnest({series}::smallint[]) AS series (key) "
        "CROSS JOIN LATERAL ({inner}) AS latest ORDER BY series.key"
    ).format(series=sql.Placeholder("series"), inner=inner + _where(conditions) + order)
    return query, params


def count_query(selection: Selection) -> Statement:
    params: dict[str, object] = {}
    conditions = _series_conditions(selection, params)
    conditions += _window_conditions(selection, selection.window, params)
    return sql.SQL("SELECT count(*) FROM {}").format(_relation(selection)) + _where(
        conditions
    ), params


def bounds_query(selection: Selection) -> Statement:
    """First and last stored time of the selection within its window (NULLs when empty), from
    index probes: per bank when banks vary, since the indexes order time within a bank."""
    params: dict[str, object] = {}
    conditions = _series_conditions(selection, params)
    conditions += _window_conditions(selection, selection.window, params)
    probe_banks = "bank_id" in selection.order_keys
    if probe_banks:
        params["banks"] = sorted(selection.dataset.site.rack_counts)
        conditions.append(sql.SQL("{} = probe.bank_id").format(sql.Identifier("bank_id")))
    ts = _ts(selection)
    first = sql.SQL("SELECT {ts} FROM {rel}{where} ORDER BY {ts} LIMIT 1").format(
        ts=ts, rel=_relation(selection), where=_where(conditions)
    )
    last = sql.SQL("SELECT {ts} FROM {rel}{where} ORDER BY {ts} DESC LIMIT 1").format(
        ts=ts, rel=_relation(selection), where=_where(conditions)
    )
    if not probe_banks:
        return sql.SQL("SELECT ({}), ({})").format(first, last), params
    return sql.SQL(
        "SELECT min(({first})), max(({last})) FROM unnest({banks}::smallint[]) AS probe (bank_id)"
    ).format(first=first, last=last, banks=sql.Placeholder("banks")), params


def coverage_query(selection: Selection, window: Window) -> Statement:
    """What the component's 1-minute aggregate counts exactly within the window."""
    params = {
        "component": selection.dataset.component,
        "start": window.start,
        "end": window.end,
    }
    return sql.SQL(
        "SELECT counts_schema, counts_table, bucket_width, bucket_origin, materialized_until, "
        "stale_starts, stale_ends FROM ess.minute_count_coverage({component}, {start}, {end})"
    ).format(**{name: sql.Placeholder(name) for name in params}), params


# The bucket holding the row at `offset` (0-based) of the selection in page order, and how many
# rows precede that bucket: rows are ordered by time first, so each bucket's rows are contiguous
# and a running sum of the per-bucket counts finds it. Exact spans read the aggregate's stored
# counts, raw spans count rows (per bucket) by the series index; a kind of span the window does
# not have is left out of the statement (an empty branch still costs its hash table).
_STORED_PIECES = """
SELECT stored.bucket AS bucket, sum(stored.n_rows) AS n_rows
FROM unnest({starts}::timestamptz[], {ends}::timestamptz[]) AS span (lo, hi)
CROSS JOIN LATERAL (
    SELECT bucket, n_rows FROM {aggregate}{where} AND bucket >= span.lo AND bucket < span.hi
) AS stored
GROUP BY stored.bucket
"""
_COUNTED_PIECES = """
SELECT
    time_bucket({width}::interval, counted.ts, origin => {origin}::timestamptz) AS bucket,
    count(*) AS n_rows
FROM unnest({starts}::timestamptz[], {ends}::timestamptz[]) AS span (lo, hi)
CROSS JOIN LATERAL (
    SELECT {ts} AS ts FROM {relation}{where} AND {ts} >= span.lo AND {ts} < span.hi
) AS counted
GROUP BY 1
"""
_LOCATE = """
WITH piece AS ({pieces})
SELECT bucket, (rows_through - n_rows)::bigint AS rows_before
FROM (SELECT bucket, n_rows, sum(n_rows) OVER (ORDER BY bucket) AS rows_through FROM piece) AS run
WHERE rows_through > {offset}
ORDER BY bucket
LIMIT 1
"""


def locate_query(
    selection: Selection,
    counts: MinuteCounts,
    exact: list[Window],
    raw: list[Window],
    offset: int,
) -> Statement:
    params: dict[str, object] = {"offset": offset}
    where = _where(_series_conditions(selection, params))
    pieces: list[sql.Composable] = []
    if exact:
        params |= {"exact_starts": [w.start for w in exact], "exact_ends": [w.end for w in exact]}
        pieces.append(
            sql.SQL(_STORED_PIECES).format(
                starts=sql.Placeholder("exact_starts"),
                ends=sql.Placeholder("exact_ends"),
                aggregate=sql.Identifier(*counts.table),
                where=where,
            )
        )
    if raw:
        params |= {
            "raw_starts": [w.start for w in raw],
            "raw_ends": [w.end for w in raw],
            "width": counts.width,
            "origin": counts.origin,
        }
        pieces.append(
            sql.SQL(_COUNTED_PIECES).format(
                starts=sql.Placeholder("raw_starts"),
                ends=sql.Placeholder("raw_ends"),
                width=sql.Placeholder("width"),
                origin=sql.Placeholder("origin"),
                ts=_ts(selection),
                relation=_relation(selection),
                where=where,
            )
        )
    query = sql.SQL(_LOCATE).format(
        pieces=sql.SQL(" UNION ALL ").join(pieces), offset=sql.Placeholder("offset")
    )
    return query, params


def json_rows_query(statement: Statement) -> Statement:
    """The rows of a rows statement (rows_query, latest_query) as one text value: each row a
    compact JSON object with the published names as keys, one per line, in the statement's
    order; NULL when there is no row. One value instead of a COPY message per row: the API
    only splices the text into its answer (JSON text never holds a raw newline). A float
    that is NaN or infinite comes out as a JSON string, "NaN" (execute.json_lines makes it
    null)."""
    query, params = statement
    return sql.SQL(
        "SELECT string_agg(row_to_json(page_row)::text, E'\\n') FROM ({}) AS page_row"
    ).format(query), params


def copy_statement(query: sql.Composed, header: bool) -> sql.Composed:
    return sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER {})").format(
        query, sql.SQL("true" if header else "false")
    )
