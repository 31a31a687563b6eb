"""Grants of the database roles over objects made after the migrations, re-run by `ess migrate`
and with every view generation (the roles and the fixed grants are in migration 0006):

- ess_api reads every table and view of ess and ess_deid.
- ess_analyst reads the de-identified views, and a continuous aggregate only when neither its
  definition nor an aggregate it rolls up from names a sensitive column.
- ess_analyst calls the analytics functions listed in ess.analyst_function through SECURITY
  DEFINER wrappers of the same name and signature in ess_deid (the functions read raw tables).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from api.database_roles.names import ANALYST_ROLE, API_ROLE

# (component, column name) -> whether the column is sensitive: the de-identification rules
IsSensitive = Callable[[str, str], bool]
HERE = Path(__file__).parent
RAW_COLUMNS_SQL = (HERE / "raw_columns.sql").read_text()
AGGREGATES_SQL = (HERE / "continuous_aggregates.sql").read_text()
ANALYST_FUNCTIONS_SQL = (HERE / "analyst_functions.sql").read_text()
WRAPPERS_SQL = (HERE / "wrappers.sql").read_text()
# the wrapped functions call TimescaleDB's functions (schema public) unqualified
WRAPPER_SEARCH_PATH = "pg_catalog, ess, public, pg_temp"
VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}


def sensitive_raw_columns(conn: psycopg.Connection, is_sensitive: IsSensitive) -> set[str]:
    """Every column of the raw hypertables that the rules call sensitive (for any site)."""
    rows = conn.execute(RAW_COLUMNS_SQL).fetchall()
    return {column for component, column in rows if is_sensitive(component, column)}


def _words(names: set[str]) -> re.Pattern | None:
    return re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b") if names else None


def readable_aggregates(
    definitions: dict[str, str], sensitive: set[str]
) -> tuple[list[str], list[str]]:
    """(readable, refused): refused when a definition names a sensitive column or a refused
    aggregate (hierarchical aggregates roll up from finer ones)."""
    refused: set[str] = set()
    while True:
        banned = _words(sensitive | refused)
        newly = {
            name
            for name, definition in definitions.items()
            if name not in refused and banned and banned.search(definition or "")
        }
        if not newly:
            break
        refused |= newly
    return sorted(set(definitions) - refused), sorted(refused)


def _wrapper(name: str, arguments: str, result: str, count: int, volatility: str) -> sql.Composed:
    call = sql.SQL("SELECT * FROM {}({})").format(
        sql.Identifier("ess", name), sql.SQL(", ").join(sql.SQL(f"${i + 1}") for i in range(count))
    )
    return sql.SQL(
        "CREATE FUNCTION {wrapper}({arguments}) RETURNS {result} LANGUAGE sql {volatility} "
        "SECURITY DEFINER SET search_path = {path} AS {body}"
    ).format(
        wrapper=sql.Identifier("ess_deid", name),
        arguments=sql.SQL(arguments),
        result=sql.SQL(result),
        volatility=sql.SQL(VOLATILITY[volatility]),
        path=sql.SQL(WRAPPER_SEARCH_PATH),
        body=sql.Literal(call.as_string()),
    )


def grant_privileges(conn: psycopg.Connection, is_sensitive: IsSensitive) -> dict[str, list[str]]:
    """Returns what analysts were given and refused."""
    api, analyst = sql.Identifier(API_ROLE), sql.Identifier(ANALYST_ROLE)
    with conn.transaction():
        conn.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA ess, ess_deid TO {}").format(api)
        )
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA ess_deid TO {}").format(analyst))

        definitions = dict(conn.execute(AGGREGATES_SQL).fetchall())
        readable, refused = readable_aggregates(
            definitions, sensitive_raw_columns(conn, is_sensitive)
        )
        for name in readable:
            conn.execute(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier("ess", name), analyst)
            )
        for name in refused:
            conn.execute(
                sql.SQL("REVOKE SELECT ON {} FROM {}").format(sql.Identifier("ess", name), analyst)
            )

        # wrappers are re-created: the wrapped functions may have changed their signature
        for (signature,) in conn.execute(WRAPPERS_SQL).fetchall():
            conn.execute(sql.SQL("DROP FUNCTION {}").format(sql.SQL(signature)))
        wrapped = []
        for name, count, volatility, arguments, result in conn.execute(
            ANALYST_FUNCTIONS_SQL
        ).fetchall():
            conn.execute(_wrapper(name, arguments, result, count, volatility))
            wrapped.append(name)
        conn.execute("REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ess_deid FROM PUBLIC")
        conn.execute(
            sql.SQL("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ess_deid TO {}, {}").format(
                analyst, api
            )
        )
    return {"aggregates": readable, "refused_aggregates": refused, "functions": wrapped}
