"""Connection pool and the execute step. Only the SQL step of a request holds a connection
(parse -> plan -> SQL -> respond), so the pool can stay small; the embedded engine needs exactly
one connection."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import RowFactory, RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from api.engine import is_embedded
from api.errors import bad_parameter

T = TypeVar("T")


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


# a lost database is retried at least this often, so the API answers again within seconds of its
# return (psycopg_pool doubles its delay without bound: 16 s and more after a longer outage)
RECONNECT_DELAY_MAX_S = 1.0
# while the database is unreachable a request waits this long for a connection, then answers 503
# (rather than holding the client for the whole pool timeout)
UNREACHABLE_WAIT_S = 2.0


class _CappedBackoff(AttemptWithBackoff):
    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_DELAY_MAX_S)


class ResilientPool(ConnectionPool):
    """A pool that reconnects within a second of the database's return and, while it cannot
    connect, fails requests after a short wait instead of the whole pool timeout."""

    unreachable = False

    def _add_connection(self, attempt: AttemptWithBackoff | None, growing: bool = False) -> None:
        # psycopg_pool's own retry loop, with a capped delay (a protected method of the pinned
        # psycopg_pool 3.3: there is no setting for it)
        super()._add_connection(attempt or _CappedBackoff(timeout=self.reconnect_timeout), growing)

    def _connect(self, timeout: float | None = None) -> psycopg.Connection:
        try:
            conn = super()._connect(timeout)
        except psycopg.OperationalError:
            self.unreachable = True
            raise
        self.unreachable = False
        return conn

    def getconn(self, timeout: float | None = None) -> psycopg.Connection:
        # wait in short slices, so that a request already queued when the database goes away
        # (behind the embedded engine's one connection, say) also gives up UNREACHABLE_WAIT_S
        # after that is known, not at the end of the whole pool timeout
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            if self.unreachable:
                deadline = min(deadline, time.monotonic() + UNREACHABLE_WAIT_S)
            wait = min(UNREACHABLE_WAIT_S, deadline - time.monotonic())
            try:
                return super().getconn(max(wait, 0.01))
            except PoolTimeout:
                if time.monotonic() >= deadline:
                    raise


def open_pool(url: str, max_size: int = 8, statement_timeout_ms: int = 30000) -> ConnectionPool:
    embedded = server_is_embedded(url)
    pool = _pool(url, embedded, 1, max_size, statement_timeout_ms)
    pool.open(wait=True, timeout=30)
    pool.embedded = embedded  # type: ignore[attr-defined]
    return pool


def replica_pool(url: str, max_size: int = 8, statement_timeout_ms: int = 30000) -> ConnectionPool:
    """A read replica's pool: opened without waiting and without a connection kept, since the
    replica may be down now (api.replicas decides when it is asked)."""
    pool = _pool(url, False, 0, max_size, statement_timeout_ms)
    pool.open(wait=False)
    return pool


def _pool(
    url: str, embedded: bool, min_size: int, max_size: int, statement_timeout_ms: int
) -> ConnectionPool:
    # no server-side prepared statements: the reset's DISCARD ALL deallocates them on a real
    # server while psycopg still counts them as prepared ("prepared statement _pg3_0 does not
    # exist"), and the embedded engine shares one session between connections
    kwargs: dict = {"autocommit": True, "prepare_threshold": None}
    if not embedded:
        # the embedded engine ignores statement_timeout; there, request windows bound the work
        kwargs["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return ResilientPool(
        url,
        min_size=min_size,
        max_size=1 if embedded else max_size,
        kwargs=kwargs,
        configure=_reset,
        # a real server keeps nothing of a request in the session (settings are local to a
        # transaction, the loader's staging tables are dropped on commit): no reset, which was
        # two statements and ~1.5 ms of CPU per request, API and server together
        reset=_reset if embedded else None,
        open=False,
        name="ess",
    )


# -- the execute step of every route family: one statement (or a few, in one transaction) on a
# pooled connection, rows decoded by column name into msgspec Structs

Statement = tuple[str | sql.Composable, Mapping[str, object]]


def sql_text(module_file: str, name: str) -> str:
    """The statement of a .sql file next to a module: `sql_text(__file__, "episodes.sql")`."""
    return (Path(module_file).parent / name).read_text()


@contextmanager
def session(pool: ConnectionPool, tz: str | None = None) -> Iterator[psycopg.Connection]:
    """A pooled connection inside a transaction, with the session TimeZone `tz` if given (then
    timestamps formatted by the database carry its offset); nothing outlives the transaction."""
    with pool.connection() as conn, transaction_in_zone(conn, tz):
        yield conn


@contextmanager
def transaction_in_zone(conn: psycopg.Connection, tz: str | None) -> Iterator[None]:
    """`session` on a connection already held (benches): a transaction, TimeZone `tz` in it."""
    with conn.transaction():
        if tz is not None:
            try:
                conn.execute("SELECT set_config('TimeZone', %s, true)", (tz,))
            except psycopg.errors.InvalidParameterValue:
                raise bad_parameter("tz", f"{tz!r} is not a time zone the database knows") from None
        yield


def _local_times(tz: tzinfo | None) -> RowFactory[dict[str, Any]]:
    """Rows as {column: value}, timestamptz values shown in `tz` (the site's zone)."""

    def factory(cursor: psycopg.Cursor) -> RowMaker[dict[str, Any]]:
        names = [c.name for c in cursor.description or ()]

        def make(values: Sequence[Any]) -> dict[str, Any]:
            if tz is not None:
                values = [
                    v.astimezone(tz) if isinstance(v, datetime) and v.tzinfo else v for v in values
                ]
            return dict(zip(names, values, strict=True))

        return make

    return factory


def decode_rows(
    conn: psycopg.Connection, statement: Statement, row_type: type[T], tz: tzinfo | None = None
) -> list[T]:
    """Run one statement; each row becomes a `row_type` by column name (a Struct's field, or
    its `name=` rename), so a column added to a SQL function breaks nothing and a missing one
    is an error, never a shifted value."""
    query, params = statement
    with conn.cursor(row_factory=_local_times(tz)) as cur:
        rows = cur.execute(query, params).fetchall()
    return msgspec.convert(rows, list[row_type])


def fetch(
    db: ConnectionPool | psycopg.Connection,
    statement: Statement,
    row_type: type[T],
    tz: tzinfo | None = None,
) -> list[T]:
    """The SQL step of a request: one statement on a pooled connection (or on the given one:
    benches, commands), rows as `row_type`."""
    if isinstance(db, psycopg.Connection):
        return decode_rows(db, statement, row_type, tz)
    with db.connection() as conn:
        return decode_rows(conn, statement, row_type, tz)
