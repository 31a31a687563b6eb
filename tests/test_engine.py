"""The embedded engine keeps its data across restarts, with TimescaleDB fully working again
(a second `make run` reuses the data directory of the first)."""

from datetime import UTC, datetime, timedelta

from api.config import REPO_ROOT
from api.db import connect
from api.engine import EmbeddedEngine
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
