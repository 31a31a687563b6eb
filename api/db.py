"""Connection pool. Only the SQL step of a request holds a connection (parse -> plan -> SQL ->
respond), so the pool can stay small; the embedded engine needs exactly one connection."""

from __future__ import annotations

import psycopg
from psycopg_pool import ConnectionPool

from api.engine import is_embedded


def _reset(conn: psycopg.Connection) -> None:
    # the embedded engine shares one session between all connections: take none over from a
    # previous client (psql, another process) and leave nothing behind
    conn.execute("DISCARD ALL")
    # and set the search path explicitly: the embedded engine has been seen to lose its reset
    # value (RESET gave pg_catalog) after a failed DROP ... CASCADE of hypertables
    conn.execute('SET search_path = "$user", public')


def connect(url: str) -> psycopg.Connection:
    """A single autocommit connection for command-line work, safe on both engines."""
    conn = psycopg.connect(url, autocommit=True, prepare_threshold=None)
    _reset(conn)
    return conn


def server_is_embedded(url: str) -> bool:
    with connect(url) as conn:
        row = conn.execute("SELECT version()").fetchone()
    return is_embedded(row[0])


def open_pool(url: str, max_size: int = 8, statement_timeout_ms: int = 30000) -> ConnectionPool:
    embedded = server_is_embedded(url)
    kwargs: dict = {"autocommit": True, "prepare_threshold": None if embedded else 5}
    if not embedded:
        # the embedded engine ignores statement_timeout; there, request windows bound the work
        kwargs["options"] = f"-c statement_timeout={statement_timeout_ms}"
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=1 if embedded else max_size,
        kwargs=kwargs,
        configure=_reset,
        reset=_reset,
        open=False,
        name="ess",
    )
    pool.open(wait=True, timeout=30)
    pool.embedded = embedded  # type: ignore[attr-defined]
    return pool
