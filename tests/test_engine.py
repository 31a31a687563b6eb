"""The embedded engine keeps its data across restarts, with TimescaleDB fully working again
(a second `make run` reuses the data directory of the first), and serves connections side by
side on its one session."""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg

from api.config import REPO_ROOT
from api.db import connect, open_pool
from api.engine import EmbeddedEngine, throwaway_engine
from api.migrate import migrate
from api.refresh import refresh_aggregates
from tests.helpers import free_port


def test_a_restarted_engine_keeps_data_and_timescaledb_works(tmp_path):
    # its own embedded engine, whatever database the rest of the suite uses
    engine_dir = tmp_path / "engine"
    start = datetime(2023, 4, 10, tzinfo=UTC)
    engine = EmbeddedEngine(engine_dir, port=free_port())
    engine.start()
    try:
        with connect(engine.url) as conn:
            migrate(conn, REPO_ROOT / "sql")
            conn.execute(
                "INSERT INTO ess.etc (ts, site_id, sensor1_temperature) VALUES (%s, 2, 21.5)",
                (start,),
            )
    finally:
        engine.stop()

    engine = EmbeddedEngine(engine_dir, port=free_port())
    engine.start()
    try:
        with connect(engine.url) as conn:
            assert conn.execute("SHOW timescaledb.license").fetchone()[0] == "timescale"
            assert migrate(conn, REPO_ROOT / "sql").applied == []
            conn.execute(
                "INSERT INTO ess.etc (ts, site_id, sensor1_temperature) VALUES (%s, 2, 22.5)",
                (start + timedelta(seconds=1),),
            )
            refresh_aggregates(conn, start, start + timedelta(hours=1))
            assert (
                conn.execute("SELECT sum(n_rows) FROM ess.etc_1m WHERE site_id = 2").fetchone()[0]
                == 2
            )
    finally:
        engine.stop()


ROUNDS = 25


def test_connections_side_by_side_each_get_their_own_answers_and_none_waits_forever():
    """A connection logging in again and again, one running transactions and a pool (whose
    worker resets each returned connection) take turns on the engine's one session. A message of
    one may not run inside another's login, Parse...Sync or transaction: a pool's DISCARD ALL
    once ran between another connection's startup and password, lost its ReadyForQuery, and the
    pool waited for it forever (the app then got no connection)."""
    with throwaway_engine("ess-test-sessions-") as engine:
        pool = open_pool(engine.url, max_size=1)
        stop = threading.Event()
        rounds = {"logging in": 0, "in transactions": 0, "through the pool": 0}
        wrong: list[str] = []

        def ask(conn: psycopg.Connection, name: str, number: int) -> None:
            answer = conn.execute("SELECT %s::int, %s::text", (number, name)).fetchone()
            if answer != (number, name):
                wrong.append(f"{name} asked {number} and got {answer}")
            rounds[name] += 1

        def logging_in() -> None:
            with connect(engine.url) as conn:
                ask(conn, "logging in", rounds["logging in"])

        def in_transactions(conn: psycopg.Connection) -> Callable[[], None]:
            def one() -> None:
                with conn.transaction():
                    conn.execute("SELECT set_config('TimeZone', 'UTC', true)")
                    ask(conn, "in transactions", rounds["in transactions"])

            return one

        def through_the_pool() -> None:
            with pool.connection() as conn, conn.transaction():
                ask(conn, "through the pool", rounds["through the pool"])

        def repeat(step: Callable[[], None]) -> None:
            while not stop.is_set() and min(rounds.values()) < ROUNDS:
                step()

        with connect(engine.url) as held:
            workers = [
                threading.Thread(target=repeat, args=(step,), daemon=True)
                for step in (logging_in, in_transactions(held), through_the_pool)
            ]
            for worker in workers:
                worker.start()
            deadline = time.monotonic() + 60
            while min(rounds.values()) < ROUNDS and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            assert min(rounds.values()) >= ROUNDS, f"a connection stopped getting answers: {rounds}"
            for worker in workers:
                worker.join(timeout=10)
        pool.close()
        assert wrong == []
