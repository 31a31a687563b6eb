"""Grants of the database roles over objects made after the migrations, re-run by `ess migrate`
and with every view generation (the roles and the fixed grants are in migration 0006):

- ess_api reads every table and view of ess and ess_deid.
- ess_analyst reads the de-identified views, and a continuous aggregate only when neither its
  definition nor an aggregate it rolls up from names a sensitive column.
- ess_analyst calls the analytics functions listed in ess.analyst_function through SECURITY
  DEFINER wrappers of the same name and signature in ess_deid (the functions read raw tables).

The grants and wrappers are made by ess.grant_role_privileges (sql/functions/database_roles.sql);
this module decides which aggregates are readable, from the de-identification rules it is given.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg

# (component, column name) -> whether the column is sensitive: the de-identification rules
IsSensitive = Callable[[str, str], bool]

RAW_COLUMNS_SQL = "SELECT component, column_name FROM ess.raw_table_columns()"
AGGREGATES_SQL = "SELECT view_name, view_definition FROM ess.continuous_aggregate_queries()"
GRANT_SQL = "SELECT ess.grant_role_privileges(%s, %s)"


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


def grant_privileges(conn: psycopg.Connection, is_sensitive: IsSensitive) -> dict[str, list[str]]:
    """Returns what analysts were given and refused."""
    with conn.transaction():
        definitions = dict(conn.execute(AGGREGATES_SQL).fetchall())
        readable, refused = readable_aggregates(
            definitions, sensitive_raw_columns(conn, is_sensitive)
        )
        wrapped = [name for (name,) in conn.execute(GRANT_SQL, (readable, refused)).fetchall()]
    return {"aggregates": readable, "refused_aggregates": refused, "functions": wrapped}
