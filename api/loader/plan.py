"""Plan a file's load against the catalog: which hypertable columns its header names, how each
column's values are converted, and the INSERT statement that writes a batch.

Every identifier in the statement comes from the catalog (ess.site_column), never from the file:
a header is only ever compared with the catalog's names."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from psycopg import sql

from api.catalog.model import Site
from api.loader.convert import Converter, make_converter
from api.loader.pgbinary import ARRAY_TYPES, INTEGER_RANGES

STAGE_TABLE = sql.Identifier("pg_temp", "ess_load_stage")
TIME_COLUMN = "ts"
TIME_HEADERS = ("timestamp", "ts")  # the source data's name, and the hypertable's
TIME_SQL_TYPE = "timestamp with time zone"
KIND_NAMES = {"micros": "timestamp", "object": "nested (struct, list or map)"}


class FileRejected(Exception):
    """The file cannot be loaded at all (header, format); nothing of it is stored."""


@dataclass(frozen=True)
class PlannedColumn:
    source_index: int  # position in the file
    header: str  # as the file writes it, for messages
    name: str  # hypertable column
    sql_type: str
    converter: Converter

    @property
    def dictionary(self) -> bool:
        """jsonb is sent as distinct values and indexes (see pgbinary.dictionary_encode)."""
        return self.sql_type == "jsonb"


@dataclass(frozen=True)
class Plan:
    columns: tuple[PlannedColumn, ...]
    ignored: tuple[str, ...]  # unnamed columns (a pandas index) that are skipped
    insert: sql.Composed
    stage: sql.Composed  # the COPY path: a temporary table of the file's columns,
    move: sql.Composed  # and the statement that moves its rows into the hypertable

    def index_of(self, name: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.name == name)

    def copy(self, order: list[int]) -> sql.Composed:
        """COPY of a batch into the staging table, its columns in `order` (see pgcopy)."""
        return sql.SQL("COPY {stage} ({columns}) FROM STDIN (FORMAT binary)").format(
            stage=STAGE_TABLE,
            columns=sql.SQL(", ").join(sql.Identifier(self.columns[i].name) for i in order),
        )


def normalise_header(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def is_unnamed(name: str) -> bool:
    # pandas writes its index as an unnamed first column (CSV) or __index_level_0__ (Parquet)
    return name == "" or name.startswith("unnamed:") or name.startswith("__index_level_")


def plan_file(
    site: Site,
    component: str,
    key_columns: tuple[str, ...],
    headers: list[str],
    kinds: list[str],
) -> Plan:
    names = [normalise_header(h) for h in headers]
    ignored = tuple(h for h, n in zip(headers, names, strict=True) if is_unnamed(n))
    site_columns = {c.name: c for c in site.columns.get(component, ())}
    valid = (TIME_HEADERS[0], *site_columns)

    seen: dict[str, int] = {}
    unknown: list[str] = []
    for index, name in enumerate(names):
        if is_unnamed(name):
            continue
        target = TIME_COLUMN if name in TIME_HEADERS else name
        if target != TIME_COLUMN and target not in site_columns:
            unknown.append(headers[index].strip())
        elif target in seen:
            raise FileRejected(
                f"column {headers[index].strip()!r} appears twice (headers are compared "
                "case-insensitively; 'timestamp' and 'ts' are the same column)"
            )
        else:
            seen[target] = index
    if unknown:
        one = len(unknown) == 1
        raise FileRejected(
            f"{_plural(unknown, 'column')} {', '.join(map(repr, unknown))} "
            f"{'is not a' if one else 'are not'} {component} {_plural(unknown, 'column')} of "
            f"site {site.site_id} ({site.code}); its {component} columns are: "
            f"{', '.join(valid)} (see ess.site_column)"
        )
    missing = [k for k in (TIME_COLUMN, *key_columns) if k not in seen]
    if missing:
        shown = ["timestamp" if k == TIME_COLUMN else k for k in missing]
        raise FileRejected(
            f"missing key {_plural(shown, 'column')} {', '.join(shown)}: every "
            f"{component} row is identified by {', '.join(['timestamp', *key_columns])}"
        )

    site_tz = ZoneInfo(site.timezone)
    planned = []
    for name, index in seen.items():
        if name == TIME_COLUMN:
            value_type, sql_type = "time", TIME_SQL_TYPE
        else:
            value_type, sql_type = site_columns[name].value_type, site_columns[name].sql_type
        if sql_type not in ARRAY_TYPES:
            raise FileRejected(f"column {name} has type {sql_type}, which the loader cannot write")
        converter = make_converter(
            value_type,
            sql_type,
            kinds[index],
            key=name in key_columns,
            site_tz=site_tz,
            column=name,
            integer_bounds=INTEGER_RANGES.get(sql_type),
        )
        if converter is None:
            held = KIND_NAMES.get(kinds[index], kinds[index])
            raise FileRejected(
                f"column {headers[index].strip()!r} holds {held} values, which cannot be stored "
                f"as {value_type}"
            )
        planned.append(PlannedColumn(index, headers[index].strip(), name, sql_type, converter))
    return Plan(
        columns=tuple(planned),
        ignored=ignored,
        insert=_insert_statement(component, planned),
        stage=_stage_statement(planned),
        move=_move_statement(component, planned),
    )


def _plural(items: list, word: str) -> str:
    return word if len(items) == 1 else f"{word}s"


def _insert_statement(component: str, columns: list[PlannedColumn]) -> sql.Composed:
    """`INSERT ... SELECT %s, unnest(%s::float8[]), ... ON CONFLICT DO NOTHING`.

    The arrays are unnested in the select list rather than in FROM: measured on the embedded
    engine, FROM unnest(a, b, ...) materialises every array into its own tuple store (18 us per
    57-column row) where select-list unnests run in lockstep without it (11 us). All arrays of a
    batch have the same length, so lockstep is exactly a zip. A dictionary-encoded jsonb column
    is two parameters: its distinct values and one index per row."""
    values = []
    for column in columns:
        array_type = sql.SQL(ARRAY_TYPES[column.sql_type].name)
        if column.dictionary:
            values.append(sql.SQL("(%s::jsonb[])[unnest(%s::int2[])]"))
        else:
            values.append(sql.SQL("unnest(%s::{}[])").format(array_type))
    return sql.SQL(
        "INSERT INTO ess.{table} (site_id, {columns}) SELECT %s::int2, {values} "
        "ON CONFLICT DO NOTHING"
    ).format(
        table=sql.Identifier(component),
        columns=sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        values=sql.SQL(", ").join(values),
    )


def _stage_statement(columns: list[PlannedColumn]) -> sql.Composed:
    """The staging table of the COPY path: the file's columns, no constraint, no index, dropped
    with the transaction that loads the file. The types come from ARRAY_TYPES' keys (the
    catalog's format_type), checked by plan_file."""
    return sql.SQL("CREATE TEMPORARY TABLE {stage} ({columns}) ON COMMIT DROP").format(
        stage=STAGE_TABLE,
        columns=sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.sql_type)) for c in columns
        ),
    )


def _move_statement(component: str, columns: list[PlannedColumn]) -> sql.Composed:
    names = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
    return sql.SQL(
        "INSERT INTO ess.{table} (site_id, {columns}) SELECT %s::int2, {columns} FROM {stage} "
        "ON CONFLICT DO NOTHING"
    ).format(table=sql.Identifier(component), columns=names, stage=STAGE_TABLE)
