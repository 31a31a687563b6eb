"""`ess migrate`: forward-only migrations once each, then the idempotent SQL files every time.

sql/migrations/NNNN_*.sql run in name order, each exactly once, in its own transaction, and are
recorded with a SHA-256 of their text; an applied migration whose text changed is refused.
Then sql/continuous_aggregates, sql/functions and sql/views (CREATE OR REPLACE / IF NOT EXISTS)
are re-applied in that order, so a function fix needs no new migration. sql/demo is not: only
`ess demo` installs the demo generator (api/demo/install.py), never a production migrate.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

IDEMPOTENT_DIRS = ("continuous_aggregates", "functions", "views")
# create_hypertable(..., by_range(...)), used by the migrations, came with TimescaleDB 2.13
MIN_TIMESCALEDB = (2, 13)

LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS ess;
CREATE TABLE IF NOT EXISTS ess.schema_migration (
    filename text PRIMARY KEY,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""


class MigrationError(RuntimeError):
    pass


@dataclass
class MigrateReport:
    applied: list[str]
    reapplied: list[str]


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def migrate(conn: psycopg.Connection, sql_dir: Path) -> MigrateReport:
    """Bring the database at `conn` (autocommit) up to date with `sql_dir`."""
    check_timescaledb(conn)
    conn.execute(LEDGER_DDL)
    done = dict(conn.execute("SELECT filename, checksum FROM ess.schema_migration").fetchall())
    applied = []
    for path in sorted((sql_dir / "migrations").glob("*.sql")):
        text = path.read_text()
        digest = checksum(text)
        if path.name in done:
            if done[path.name] != digest:
                raise MigrationError(
                    f"{path.name} was applied with checksum {done[path.name][:12]} but now reads "
                    f"{digest[:12]}: migrations are forward-only, add a new migration instead of "
                    "editing an applied one"
                )
            continue
        with conn.transaction():
            conn.execute(text)
            conn.execute(
                "INSERT INTO ess.schema_migration (filename, checksum) VALUES (%s, %s)",
                (path.name, digest),
            )
        applied.append(path.name)
    reapplied = [name for folder in IDEMPOTENT_DIRS for name in apply_folder(conn, sql_dir, folder)]
    return MigrateReport(applied, reapplied)


def apply_folder(conn: psycopg.Connection, sql_dir: Path, folder: str) -> list[str]:
    """Run every idempotent file of `sql_dir/folder` in name order; returns them as folder/name."""
    applied = []
    for path in sorted((sql_dir / folder).glob("*.sql")):
        # one statement at a time: continuous aggregates refuse to be created inside the
        # implicit transaction of a multi-statement query
        for statement in split_statements(path.read_text()):
            conn.execute(statement)
        applied.append(f"{folder}/{path.name}")
    return applied


def check_timescaledb(conn: psycopg.Connection) -> None:
    """Create the extension if needed; refuse a server without it, or with too old a version."""
    where = f"the database at {conn.info.host}:{conn.info.port}"
    row = conn.execute(
        "SELECT default_version, installed_version FROM pg_available_extensions "
        "WHERE name = 'timescaledb'"
    ).fetchone()
    if problem := timescaledb_problem(where, *(row or (None, None))):
        raise MigrationError(problem)
    # on a server that has the package but does not preload it, TimescaleDB ends the session
    # here (FATAL: extension "timescaledb" must be preloaded); api.cli_errors explains that
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    (installed,) = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if problem := timescaledb_problem(where, installed, installed):
        raise MigrationError(problem)


def timescaledb_problem(where: str, available: str | None, installed: str | None) -> str | None:
    """Why the schema cannot use this server's TimescaleDB (`available` is the version the
    server's package offers, `installed` the one in this database), or None."""
    if available is None:
        return timescaledb_missing(where)
    need = ".".join(map(str, MIN_TIMESCALEDB))
    upgrade = f"install TimescaleDB {need} or later on the server"
    if installed is not None and version(installed) < MIN_TIMESCALEDB:
        if version(available) >= MIN_TIMESCALEDB:
            upgrade = f"the server offers {available}"
        return (
            f"TimescaleDB {installed} in {where} is older than {need}, which the schema needs: "
            f"{upgrade}; run `ALTER EXTENSION timescaledb UPDATE` as the first statement of a new "
            "session (psql -X), then `ess migrate` again."
        )
    if installed is None and version(available) < MIN_TIMESCALEDB:
        return (
            f"TimescaleDB {available} on {where} is older than {need}, which the schema needs: "
            f"{upgrade}, then `ess migrate` again."
        )
    return None


def version(text: str) -> tuple[int, ...]:
    """'2.23.0-dev' -> (2, 23, 0)."""
    return tuple(int(part) for part in re.findall(r"\d+", text.split("-")[0]))


def timescaledb_missing(where: str) -> str:
    return (
        f"TimescaleDB is not installed on {where}. Install the TimescaleDB package for its "
        "PostgreSQL version and preload it (shared_preload_libraries = 'timescaledb'), or unset "
        "DATABASE_URL to use the embedded engine."
    )


def split_statements(text: str) -> list[str]:
    """Split SQL at semicolons that end a line, outside dollar-quoted bodies and comments."""
    statements, current, dollar_tag = [], [], None
    for line in text.splitlines(keepends=True):
        code = line.split("--", 1)[0] if dollar_tag is None else line
        for tag in _dollar_tags(code):
            if dollar_tag is None:
                dollar_tag = tag
            elif tag == dollar_tag:
                dollar_tag = None
        current.append(line)
        if dollar_tag is None and code.rstrip().endswith(";"):
            statement = "".join(current).strip()
            if statement.rstrip(";").strip():
                statements.append(statement)
            current = []
    rest = "".join(current).strip()
    if any(not ln.strip().startswith("--") for ln in rest.splitlines() if ln.strip()):
        statements.append(rest)
    return statements


def _dollar_tags(line: str) -> list[str]:
    return re.findall(r"\$[A-Za-z_]*\$", line)
