"""The demo generator's SQL functions (sql/demo/) are installed by `ess demo` and `ess run`, never
by `ess migrate`: a production database has no use for them. Re-applied on every run
(CREATE OR REPLACE), so they always match the code that calls them."""

from __future__ import annotations

from pathlib import Path

import psycopg

from api.migrate import apply_folder

DEMO_FOLDER = "demo"


def install_demo(conn: psycopg.Connection, sql_dir: Path) -> list[str]:
    """Create or replace the demo functions in a migrated database (autocommit connection)."""
    return apply_folder(conn, sql_dir, DEMO_FOLDER)
