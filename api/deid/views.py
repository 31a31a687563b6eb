"""Generation of the de-identified views and their data dictionary (`ess deid apply`).

One view per site and component, `ess_deid.site<N>_<component>`: the time, the site and the
site's own columns, sensitive ones renamed to their tokens. Python plans the tokens with the key
(api/deid/names.py) and hands the resulting token map to the SQL functions of
sql/views/deid_views.sql, which create the views and the dictionary: the key stays here. Views
whose columns are already right are left alone, so the same key changes nothing; a new key
re-creates every view with a token. Everything happens in one transaction: a reader sees the old
views or the new ones.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg
from psycopg.types.json import Jsonb

from api.catalog.model import load_catalog
from api.config import Settings
from api.database_roles.grants import grant_privileges
from api.deid.keys import configured_key
from api.deid.names import DeidKeyError, Plan, key_id, load_rules, plan

log = logging.getLogger("ess.deid")

APPLY_SQL = "SELECT view_name, action FROM ess.deid_apply_views(%s)"
STALE_SQL = "SELECT ess.deid_stale_views(%s)"


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


def token_map(deid: Plan) -> Jsonb:
    """Every published column with its source, in each view's order: what the SQL functions
    take (tokens, never the key)."""
    return Jsonb(
        [
            {
                "site_id": site_id,
                "component": component,
                "source": p.source,
                "name": p.name,
                "sql_type": p.sql_type,
                "value_type": p.value_type,
                "sensitive": p.sensitive,
                "description": p.description,
            }
            for (site_id, component), columns in sorted(deid.columns.items())
            for p in columns
        ]
    )


def apply_views(conn: psycopg.Connection, key: str) -> ApplyReport:
    """Bring ess_deid up to date with the catalog and `key`; also refresh the role grants."""
    rules = load_rules(conn)
    deid = plan(load_catalog(conn), rules, key)
    report = ApplyReport(deid.token_hex)
    with conn.transaction():
        for name, action in conn.execute(APPLY_SQL, (token_map(deid),)).fetchall():
            getattr(report, action).append(name)
        conn.execute("DELETE FROM ess_deid.key_identifier")
        conn.execute("INSERT INTO ess_deid.key_identifier (key_id) VALUES (%s)", (key_id(key),))
        grant_privileges(conn, rules.is_sensitive)
    log.info(report.summary())
    return report


def stale_views(conn: psycopg.Connection, key: str) -> list[str]:
    """The views that do not match the catalog under `key` (missing, or made with another key)."""
    deid = plan(load_catalog(conn), load_rules(conn), key)
    return [name for (name,) in conn.execute(STALE_SQL, (token_map(deid),)).fetchall()]


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
