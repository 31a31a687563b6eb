"""Execute step: the only code that holds a pool connection, each time for one statement or
one download slice.

Rows are printed by the database, never converted here. CSV comes from COPY (on the embedded
engine about 4.5x faster than fetching the same 1000 rows through a SELECT: 15 ms vs 70 ms for
a 58-column rack page). JSON rows come as one text value of JSON objects, one per line
(sqlbuild.json_rows_query): a 1000-row page costs this process about 1 ms of CPU that way,
against 3 ms for its COPY and 3.5 ms more to turn that CSV into JSON. Both print each value
with the same output function, so JSON and CSV answers carry the same values.
Each statement runs in a transaction whose TimeZone is the requested zone, so the formatted
timestamps carry its offset; nothing of it outlives the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool

from api.db import session
from api.operating_data.cursor import AFTER
from api.operating_data.plan import MinuteCounts, PagePlan, Selection, count_spans
from api.operating_data.sqlbuild import (
    Statement,
    bounds_query,
    copy_statement,
    count_query,
    coverage_query,
    json_rows_query,
    latest_query,
    locate_query,
    rows_query,
)
from api.params import Window

# psycopg yields COPY data about one row per block; a response streamed block by block is
# several times slower than one of ~256 KiB chunks
CHUNK_BYTES = 256 * 1024
SLICE_WORK_MEM = "64MB"


def copy_csv(conn: psycopg.Connection, statement: Statement, header: bool) -> bytes:
    query, params = statement
    with conn.cursor().copy(copy_statement(query, header), params) as copy:
        return b"".join(copy)


# how row_to_json prints a float with no JSON number, as a row's member ("key":value). Nothing
# else prints those bytes: a quote inside a string is escaped, and jsonb (the JSON columns) puts
# a space after its colons; only a JSON column holding the bare string "NaN" would, which no
# fault map is and the loader never stores (it reads such a cell as missing)
_NOT_JSON_NUMBERS = (b'":"NaN"', b'":"Infinity"', b'":"-Infinity"')


def json_lines(conn: psycopg.Connection, statement: Statement) -> bytes:
    """The statement's rows as JSON objects, one per line (no final newline); b"" for none.
    NaN and the infinities, which JSON has no number for, are null (the CSV prints them):
    replaced here, at no cost when absent, rather than tested in SQL for every value."""
    text = conn.execute(*json_rows_query(statement)).fetchone()[0]
    if text is None:
        return b""
    lines = text.encode()
    for member in _NOT_JSON_NUMBERS:
        if member in lines:
            lines = lines.replace(member, b'":null')
    return lines


@dataclass(frozen=True)
class PageData:
    header: bytes | None  # the CSV header line; None when the lines are JSON objects
    lines: list[bytes]  # rows in page order, at most the page size: CSV lines or JSON objects
    more: bool  # another row follows in the reading direction
    count: int | None

    @property
    def json(self) -> bool:
        return self.header is None


def _csv_lines(data: bytes) -> tuple[bytes, list[bytes]]:
    # one line per row: the published values (numbers, times, JSON text) never hold a newline
    header, *lines = data.split(b"\n")
    return header, lines[:-1]  # COPY ends every line with \n, the last split is empty


def _rows(
    conn: psycopg.Connection, statement: Statement, json: bool
) -> tuple[bytes | None, list[bytes]]:
    """The header (None for JSON) and the rows' lines, as PageData holds them."""
    if json:
        text = json_lines(conn, statement)
        return None, text.split(b"\n") if text else []
    return _csv_lines(copy_csv(conn, statement, header=True))


_INSTANT = timedelta(microseconds=1)  # the end of a half-open window that holds `last`

# count=estimated measures the row rate over this long at each end of the stored range
RATE_SAMPLE = timedelta(minutes=10)


def _count(conn: psycopg.Connection, selection: Selection, window: Window) -> int:
    return conn.execute(*count_query(replace(selection, window=window))).fetchone()[0]


def _estimated_count(conn: psycopg.Connection, selection: Selection) -> int:
    """The row rate of the first and last ten minutes of the stored range, times its length:
    two index probes and two small counts, never a scan of the window. Follows the real
    cadence (1 s operating data, 10 s demo data); gaps in the middle are not seen."""
    bounds = stored_bounds(conn, selection)
    if bounds is None:
        return 0
    first, last = bounds
    end = last + _INSTANT
    if end - first <= 2 * RATE_SAMPLE:
        return _count(conn, selection, Window(first, end))
    sampled = _count(conn, selection, Window(first, first + RATE_SAMPLE))
    sampled += _count(conn, selection, Window(end - RATE_SAMPLE, end))
    return round(sampled * ((end - first) / (2 * RATE_SAMPLE)))


def _seek(conn: psycopg.Connection, selection: Selection, offset: int) -> tuple[Window, int]:
    """Where the row at `offset` can be read from: the window from the start of its minute and
    the rows to skip there (at most a minute of rows), found from the per-minute counts of the
    1-minute aggregate where they are exact and from the raw rows elsewhere. The rows read from
    there are exactly those of OFFSET paging. An empty window when the selection has fewer rows."""
    window = selection.window
    if not window.bounded:
        bounds = stored_bounds(conn, selection)
        if bounds is None:
            return window, offset  # no rows to skip
        window = Window(window.start or bounds[0], window.end or bounds[1] + _INSTANT)
    if window.start >= window.end:
        return window, offset  # nothing to count
    schema, table, width, origin, materialized_until, stale_starts, stale_ends = conn.execute(
        *coverage_query(selection, window)
    ).fetchone()
    if table is None:  # no 1-minute aggregate: skip the rows
        return window, offset
    counts = MinuteCounts(
        (schema, table),
        width,
        origin,
        materialized_until,
        tuple(Window(s, e) for s, e in zip(stale_starts, stale_ends, strict=True)),
    )
    exact, raw = count_spans(window, counts)
    located = conn.execute(*locate_query(selection, counts, exact, raw, offset)).fetchone()
    if located is None:
        return Window(window.end, window.end), 0
    bucket, rows_before = located
    return Window(max(window.start, bucket), window.end), offset - rows_before


def read_page(pool: ConnectionPool, plan: PagePlan) -> PageData:
    with session(pool, plan.selection.tz) as conn:
        return page_on(conn, plan)


def page_on(conn: psycopg.Connection, plan: PagePlan) -> PageData:
    """A page's statements (count, seek, rows) on one connection, in its transaction."""
    selection = plan.selection
    count = None
    if plan.count == "exact":
        count = conn.execute(*count_query(selection)).fetchone()[0]
    elif plan.count == "estimated":
        count = _estimated_count(conn, selection)
    window, offset = selection.window, plan.offset
    if plan.seeks:
        window, offset = _seek(conn, selection, offset)
    # one row more than the page tells whether another page follows
    statement = rows_query(
        selection, window=window, cursor=plan.cursor, limit=plan.size + 1, offset=offset
    )
    header, lines = _rows(conn, statement, plan.json)
    more = len(lines) > plan.size
    lines = lines[: plan.size]
    if plan.cursor is not None and plan.cursor.direction != AFTER:
        lines.reverse()  # read backwards from the cursor
    return PageData(header, lines, more, count)


def read_latest(pool: ConnectionPool, selection: Selection, json: bool) -> PageData:
    with session(pool, selection.tz) as conn:
        header, lines = _rows(conn, latest_query(selection), json)
    return PageData(header, lines, False, None)


def stored_bounds(
    conn: psycopg.Connection, selection: Selection
) -> tuple[datetime, datetime] | None:
    """First and last stored time of the selection in its window, None when it is empty."""
    first, last = conn.execute(*bounds_query(selection)).fetchone()
    return None if first is None else (first, last)


def stored_window(pool: ConnectionPool, selection: Selection) -> Window:
    """The selection's window narrowed to the stored rows (empty at its start if none), so a
    download of a sparse month runs no COPY over the days without data."""
    window = selection.window
    with pool.connection() as conn:
        bounds = stored_bounds(conn, selection)
    if bounds is None:
        return Window(window.start, window.start)
    first, last = bounds
    return Window(max(window.start, first), min(window.end, last + _INSTANT))


def output_types(pool: ConnectionPool, selection: Selection) -> tuple[str, ...]:
    """The database type of each output column (e.g. int2, float8, jsonb), from the
    description of the rows statement without running it."""
    query, params = rows_query(selection, limit=0)
    with pool.connection() as conn, conn.cursor() as cursor:
        cursor.execute(query, params)
        types = conn.adapters.types
        # a type psycopg does not know (an extension's) has no name: its integers become int64
        return tuple(
            getattr(types.get(column.type_code), "name", "") for column in cursor.description
        )


def read_slice(
    pool: ConnectionPool, selection: Selection, window: Window, header: bool, json: bool = False
) -> list[bytes]:
    """One download slice as CSV in ~256 KiB chunks, or with `json` as one chunk of JSON
    objects, one per line. The connection goes back to the pool before the first chunk is
    sent, so a slow client never holds it."""
    statement = rows_query(selection, window=window)
    chunks: list[bytes] = []
    buffer = bytearray()
    with session(pool, selection.tz) as conn:
        # a slice of several banks is sorted by time: keep that sort in memory (about 25 MB
        # for a slice of rack rows; the default 4 MB spills it to disk)
        conn.execute("SELECT set_config('work_mem', %s, true)", (SLICE_WORK_MEM,))
        if json:
            text = json_lines(conn, statement)
            return [text] if text else []
        query, params = statement
        with conn.cursor().copy(copy_statement(query, header), params) as copy:
            for block in copy:
                buffer += block
                if len(buffer) >= CHUNK_BYTES:
                    chunks.append(bytes(buffer))
                    buffer.clear()
    if buffer:
        chunks.append(bytes(buffer))
    return chunks
