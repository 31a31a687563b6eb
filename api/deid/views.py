"""Generation of the de-identified views and their data dictionary (`ess deid apply`).

One view per site and component, `ess_deid.site<N>_<component>`: the time, the site and the
site's own columns, sensitive ones renamed to their tokens. Views whose columns are already right
are left alone, so the same key changes nothing; a new key re-creates every view with a token.
Everything happens in one transaction: a reader sees the old views or the new ones.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from api.auth.roles import grant_privileges
from api.catalog.model import load_catalog
from api.config import Settings
from api.deid.keys import configured_key
from api.deid.names import DeidKeyError, Plan, Published, key_id, load_rules, plan, view_name

SCHEMA = "ess_deid"
log = logging.getLogger("ess.deid")

_VIEW_NAME = re.compile(r"^site\d+_(bank|rack|pcs|etc)$")
# the columns every view starts with
_LEAD = (("ts", "timestamp with time zone"), ("site_id", "smallint"))

EXISTING_VIEWS_SQL = (Path(__file__).parent / "existing_views.sql").read_text()
INSERT_DICTIONARY_SQL = """
INSERT INTO ess_deid.dictionary (site_id, component, view_name, published_name, ordinal,
                                 value_type, sensitive, description)
SELECT * FROM unnest(%s::smallint[], %s::text[], %s::text[], %s::text[], %s::smallint[],
                     %s::text[], %s::boolean[], %s::text[])
"""


@dataclass
class ApplyReport:
    token_hex: int
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"de-identified views: {len(self.created)} created, {len(self.unchanged)} unchanged, "
            f"{len(self.dropped)} dropped (tokens of {self.token_hex} hex digits)"
        )


def _existing_views(conn: psycopg.Connection) -> dict[str, list[tuple[str, str]]]:
    return {
        name: list(zip(names, types, strict=True))
        for name, names, types in conn.execute(EXISTING_VIEWS_SQL).fetchall()
    }


def _wanted_columns(columns: tuple[Published, ...]) -> list[tuple[str, str]]:
    return [*_LEAD, *((p.name, p.sql_type) for p in columns)]


def _create_view(site_id: int, component: str, columns: tuple[Published, ...]) -> sql.Composed:
    selected = [sql.Identifier(name) for name, _ in _LEAD] + [
        sql.SQL("{} AS {}").format(sql.Identifier(p.source), sql.Identifier(p.name))
        if p.sensitive
        else sql.Identifier(p.source)
        for p in columns
    ]
    return sql.SQL(
        "CREATE VIEW {view} AS SELECT {columns} FROM {table} WHERE site_id = {site}"
    ).format(
        view=sql.Identifier(SCHEMA, view_name(site_id, component)),
        columns=sql.SQL(", ").join(selected),
        table=sql.Identifier("ess", component),
        site=sql.Literal(site_id),
    )


def _dictionary_rows(deid: Plan) -> list[tuple]:
    rows = []
    for (site_id, component), columns in deid.columns.items():
        view = f"{SCHEMA}.{view_name(site_id, component)}"
        lead = [
            ("ts", "timestamp", False, "time of the reading (timestamptz)"),
            ("site_id", "integer", False, "operating site"),
        ]
        published = [(p.name, p.value_type, p.sensitive, p.description) for p in columns]
        for ordinal, (name, value_type, sensitive, description) in enumerate(
            lead + published, start=1
        ):
            rows.append(
                (site_id, component, view, name, ordinal, value_type, sensitive, description)
            )
    return rows


def apply_views(conn: psycopg.Connection, key: str) -> ApplyReport:
    """Bring ess_deid up to date with the catalog and `key`; also refresh the role grants."""
    catalog = load_catalog(conn)
    rules = load_rules(conn)
    deid = plan(catalog, rules, key)
    report = ApplyReport(deid.token_hex)
    with conn.transaction():
        existing = _existing_views(conn)
        wanted = set()
        for (site_id, component), columns in sorted(deid.columns.items()):
            name = view_name(site_id, component)
            wanted.add(name)
            if existing.get(name) == _wanted_columns(columns):
                report.unchanged.append(name)
                continue
            conn.execute(sql.SQL("DROP VIEW IF EXISTS {}").format(sql.Identifier(SCHEMA, name)))
            conn.execute(_create_view(site_id, component, columns))
            conn.execute(
                sql.SQL("COMMENT ON VIEW {} IS {}").format(
                    sql.Identifier(SCHEMA, name),
                    sql.Literal(
                        f"De-identified {component} rows of operating site {site_id}; "
                        "column meanings in ess_deid.dictionary"
                    ),
                )
            )
            report.created.append(name)
        for name in sorted(set(existing) - wanted):
            if _VIEW_NAME.match(name):
                conn.execute(sql.SQL("DROP VIEW {}").format(sql.Identifier(SCHEMA, name)))
                report.dropped.append(name)
        conn.execute("DELETE FROM ess_deid.dictionary")
        conn.execute(
            INSERT_DICTIONARY_SQL, [list(c) for c in zip(*_dictionary_rows(deid), strict=True)]
        )
        conn.execute("DELETE FROM ess_deid.key_identifier")
        conn.execute("INSERT INTO ess_deid.key_identifier (key_id) VALUES (%s)", (key_id(key),))
        grant_privileges(conn, rules)
    log.info(report.summary())
    return report


def stale_views(conn: psycopg.Connection, key: str) -> list[str]:
    """The views that do not match the catalog under `key` (missing, or made with another key)."""
    deid = plan(load_catalog(conn), load_rules(conn), key)
    existing = _existing_views(conn)
    return [
        view_name(site_id, component)
        for (site_id, component), columns in sorted(deid.columns.items())
        if existing.get(view_name(site_id, component)) != _wanted_columns(columns)
    ]


def check_views(conn: psycopg.Connection, settings: Settings) -> None:
    """At startup: in production the key is required and the views must have been generated
    with it; in development a mismatch is only reported."""
    key = configured_key(settings)
    if key is None:
        return
    stale = stale_views(conn, key)
    if stale:
        message = (
            f"{len(stale)} de-identified view(s) do not match the catalog under the configured "
            f"key ({', '.join(stale[:4])}{', ...' if len(stale) > 4 else ''}): "
            "run `ess deid apply`"
        )
        if settings.production:
            raise DeidKeyError(message)
        log.warning(message)
