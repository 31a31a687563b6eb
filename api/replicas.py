"""Read replicas: which database a read endpoint's statement goes to.

DATABASE_READ_URL names streaming replicas of DATABASE_URL; each gets a pool of its own. Every
ESS_REPLICA_CHECK_SECONDS a thread asks each database how it is: down (no connection), or up
with its replay lag. A read takes a connection from the next replica in turn (round robin) that
is up and at most ESS_REPLICA_MAX_LAG_SECONDS behind, else from the primary; a replica that
fails to give a connection is marked down at once and the next one is asked. Migrations, loads
and refreshes never come here: they connect to DATABASE_URL.

Every route reads through `reads(request)`: one PinnedReads per request, which stands where a
ConnectionPool stood (`connection()`), so the execute steps stay as they are: only the SQL step
holds a connection, now of the chosen database. All the statements of one answer (a download's
slices, a no_page list, a page with its count or its seek, an analysis that reads its bucket
window first) read from the database chosen at its first statement, since replicas replay at
different positions and one file must not mix them. If that database fails later, the answer
fails as it would on the primary; it does not move to another. The app's ReadPools
(`app.state.read_pools`) itself lends no connection: only the health check, which asks every
database, uses it directly."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

import psycopg
from litestar import Request
from psycopg_pool import ConnectionPool, PoolTimeout

from api.db import replica_pool

# Seconds the replay is behind: 0 when the replica replayed all the WAL it received (an idle
# primary sends none, so an old last replayed transaction is no lag), else the age of the last
# replayed transaction. A server not in recovery is a primary: 0.
LAG_SQL = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN 0
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE coalesce(extract(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0)
END::float8
"""
CONNECT_TIMEOUT_S = 2  # for a check, and for a read waiting for a replica's connection


@dataclass(frozen=True)
class DatabaseState:
    name: str  # "primary", "replica 1", ... in the order of DATABASE_READ_URL (no host names)
    state: str  # "up", "lagging" (up, but behind by more than the limit), "down" or "unknown"
    lag_seconds: float | None = None
    problem: str | None = None  # why it is down
    checked_at: float | None = None  # time.monotonic() of the check

    @property
    def serves_reads(self) -> bool:
        return self.state == "up"


def judge(
    name: str, lag_seconds: float | None, max_lag_s: float, problem: str | None = None
) -> DatabaseState:
    """The state of a database from one check: its lag, or the problem that stopped the check."""
    now = time.monotonic()
    if problem is not None:
        return DatabaseState(name, "down", None, problem, now)
    state = "lagging" if lag_seconds is not None and lag_seconds > max_lag_s else "up"
    return DatabaseState(name, state, lag_seconds, None, now)


def _problem(exc: Exception) -> str:
    """The reason, without the host and port libpq puts before it (health is public)."""
    lines = str(exc).strip().splitlines()
    return lines[0].rsplit(" failed: ", 1)[-1] if lines else type(exc).__name__


class Replica:
    def __init__(self, name: str, url: str, pool: ConnectionPool) -> None:
        self.name = name
        self.url = url
        self.pool = pool
        self.state = DatabaseState(name, "unknown")


class ReadPools:
    """The primary's pool and the replicas' pools, with the state of each database."""

    def __init__(
        self,
        primary: ConnectionPool,
        replica_urls: Sequence[str] = (),
        *,
        max_lag_s: float = 30.0,
        check_interval_s: float = 2.0,
        pool_max_size: int = 8,
        statement_timeout_ms: int = 30000,
    ) -> None:
        self.primary = primary
        self.max_lag_s = max_lag_s
        self.primary_state = DatabaseState("primary", "unknown")
        self.replicas = [
            Replica(
                f"replica {number}", url, replica_pool(url, pool_max_size, statement_timeout_ms)
            )
            for number, url in enumerate(replica_urls, start=1)
        ]
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None
        if self.replicas:
            self.check()
            self._checker = threading.Thread(
                target=self._check_every,
                args=(check_interval_s,),
                name="replica-check",
                daemon=True,
            )
            self._checker.start()

    # -- routing ---------------------------------------------------------------------------------

    def serving(self) -> list[Replica]:
        """The replicas that serve reads now, starting with the next one's turn."""
        ready = [r for r in self.replicas if r.state.serves_reads]
        if not ready:
            return []
        start = next(self._turn) % len(ready)
        return ready[start:] + ready[:start]

    def pinned(self) -> PinnedReads:
        """A pool stand-in for one answer: every statement from the database of its first."""
        return PinnedReads(self)

    @contextmanager
    def _first_connection(self) -> Iterator[tuple[Replica | None, psycopg.Connection]]:
        """The next serving replica that lends a connection (None: the primary) and it."""
        with ExitStack() as stack:
            for replica in self.serving():
                try:
                    conn = stack.enter_context(self._replica_connection(replica))
                except (PoolTimeout, psycopg.OperationalError):
                    continue
                yield replica, conn
                return
            yield None, stack.enter_context(self.primary.connection())

    @contextmanager
    def _replica_connection(self, replica: Replica) -> Iterator[psycopg.Connection]:
        """A connection of that replica; one it cannot lend marks it down at once."""
        with ExitStack() as stack:
            try:
                conn = stack.enter_context(replica.pool.connection(timeout=CONNECT_TIMEOUT_S))
            except (PoolTimeout, psycopg.OperationalError) as exc:
                replica.state = judge(replica.name, None, self.max_lag_s, _problem(exc))
                raise
            yield conn

    # -- checks ----------------------------------------------------------------------------------

    def check(self) -> list[DatabaseState]:
        """Ask every database for its state now (the health endpoint, and the checker thread)."""
        try:
            with self.primary.connection(timeout=CONNECT_TIMEOUT_S) as conn:
                lag = conn.execute(LAG_SQL).fetchone()[0]
            self.primary_state = judge("primary", lag, self.max_lag_s)
        except (PoolTimeout, psycopg.Error) as exc:
            self.primary_state = judge("primary", None, self.max_lag_s, _problem(exc))
        for replica in self.replicas:
            replica.state = check_replica(replica.name, replica.url, self.max_lag_s)
        return self.states()

    def states(self) -> list[DatabaseState]:
        return [self.primary_state, *(r.state for r in self.replicas)]

    def _check_every(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            self.check()

    def close(self) -> None:
        """Close the replicas' pools (the primary's belongs to whoever opened it)."""
        self._stop.set()
        if self._checker is not None:
            self._checker.join(timeout=CONNECT_TIMEOUT_S * (len(self.replicas) + 1))
        for replica in self.replicas:
            replica.pool.close()


def reads(request: Request) -> PinnedReads:
    """Where this request's statements read: made at its first read and kept on request.state,
    so every statement of the answer, whichever function runs it, reads from one database."""
    pinned = request.state.get("reads")
    if pinned is None:
        pinned = request.state.reads = request.app.state.read_pools.pinned()
    return pinned


class PinnedReads:
    """The reads of one answer (ReadPools.pinned): all from the database chosen at the first,
    through `connection()` as from a pool."""

    def __init__(self, pools: ReadPools) -> None:
        self.pools = pools
        self.chosen = False
        self.replica: Replica | None = None  # None: the primary

    @property
    def database(self) -> str | None:
        """The chosen database's name, None before the first statement."""
        if not self.chosen:
            return None
        return "primary" if self.replica is None else self.replica.name

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        if not self.chosen:
            with self.pools._first_connection() as (replica, conn):
                self.replica, self.chosen = replica, True
                yield conn
        elif self.replica is None:
            with self.pools.primary.connection() as conn:
                yield conn
        else:
            with self.pools._replica_connection(self.replica) as conn:
                yield conn


def check_replica(name: str, url: str, max_lag_s: float) -> DatabaseState:
    """One check over a connection of its own: a pool would wait for a down server."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            lag = conn.execute(LAG_SQL).fetchone()[0]
    except psycopg.Error as exc:
        return judge(name, None, max_lag_s, _problem(exc))
    return judge(name, lag, max_lag_s)
