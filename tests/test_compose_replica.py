"""The compose file's streaming replica, its scripts run against Debian's PostgreSQL server (no
Docker here): the primary's once-only replication login, then a replica started from nothing
that copies the primary, serves reads in recovery, follows new writes and, started again, keeps
its copy. A check of docker-compose.yml ties the scripts to the services that run them."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import yaml

from api.config import REPO_ROOT
from tests.helpers import free_port, wait_for
from tests.plain_postgres import (
    SUPERUSER_PASSWORD,
    PlainServer,
    as_server_user,
    plain_postgres,
    server_bin,
    server_options,
    server_owned_dir,
    server_user,
)

DEPLOY = REPO_ROOT / "deploy" / "db"
REPLICATION_PASSWORD = "replication-pw"


@pytest.fixture(scope="module")
def primary() -> Iterator[PlainServer]:
    """A primary as the image leaves it: the replication script run once, the server restarted
    (here: its configuration reloaded)."""
    with plain_postgres(free_port()) as primary:
        as_server_user(
            [str(DEPLOY / "replication.sh")],
            env={
                **os.environ,
                "PGDATA": str(primary.data),
                "PGHOST": "127.0.0.1",
                "PGPORT": str(primary.port),
                "PGPASSWORD": SUPERUSER_PASSWORD,
                "ESS_REPLICATION_PASSWORD": REPLICATION_PASSWORD,
            },
        )
        as_server_user([str(primary.bin_dir / "pg_ctl"), "-D", str(primary.data), "reload"])
        yield primary


@pytest.fixture
def replica_data() -> Iterator[Path]:
    """Where a replica keeps its copy (not made yet: the script makes it)."""
    folder = server_owned_dir("ess-replica-")
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def replica(
    primary: PlainServer, data: Path, port: int, password: str = REPLICATION_PASSWORD
) -> Iterator[subprocess.Popen]:
    """deploy/db/replica.sh with the replica service's environment, serving on `port`."""
    env = {
        **os.environ,
        # pg_basebackup and the server from Debian's installation
        "PATH": f"{server_bin()}:{os.environ['PATH']}",
        "PGDATA": str(data),
        "ESS_PRIMARY_HOST": "127.0.0.1",
        "ESS_PRIMARY_PORT": str(primary.port),
        "ESS_REPLICATION_PASSWORD": password,
        "ESS_BASEBACKUP_ATTEMPTS": "3",
    }
    options = [*server_options(port, data.parent).split(), "-c", "hot_standby_feedback=on"]
    process = subprocess.Popen(
        [str(DEPLOY / "replica.sh"), *options],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **server_user(),
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: the server's smart shutdown
        process.wait(timeout=60)


def connect_when_ready(url: str, process: subprocess.Popen) -> psycopg.Connection:
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=2)
        except psycopg.OperationalError:
            assert time.monotonic() < deadline, "the replica did not accept connections"
            time.sleep(0.5)


def rows_written(conn: psycopg.Connection) -> list[int]:
    return conn.execute("SELECT array_agg(n ORDER BY n) FROM written").fetchone()[0]


def test_a_replica_copies_the_primary_then_streams_and_keeps_its_copy(primary, replica_data):
    port = free_port()
    replica_url = f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres"
    with psycopg.connect(f"{primary.url}/postgres", autocommit=True) as on_primary:
        on_primary.execute("CREATE TABLE written (n int)")
        on_primary.execute("INSERT INTO written VALUES (1)")

        with (
            replica(primary, replica_data, port) as first,
            connect_when_ready(replica_url, first) as conn,
        ):
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            assert rows_written(conn) == [1]  # the copy
            on_primary.execute("INSERT INTO written VALUES (2)")
            wait_for(lambda: rows_written(conn) == [1, 2], seconds=30)  # streamed
            assert conn.execute("SHOW hot_standby_feedback").fetchone()[0] == "on"
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                conn.execute("INSERT INTO written VALUES (3)")
        assert "copying the primary" in first.stdout.read()

        on_primary.execute("INSERT INTO written VALUES (3)")  # while the replica is stopped
        with (
            replica(primary, replica_data, port) as again,
            connect_when_ready(replica_url, again) as conn,
        ):
            wait_for(lambda: rows_written(conn) == [1, 2, 3], seconds=30)
        assert "copying the primary" not in again.stdout.read()  # it kept its copy


def test_a_replica_the_primary_refuses_gives_up_with_a_reason_and_nothing_half_copied(
    primary, replica_data
):
    with replica(primary, replica_data, free_port(), password="not-the-password") as process:
        assert process.wait(timeout=60) == 1
        said = process.stdout.read()
    assert "password authentication failed" in said
    assert "no copy of the primary after 3 attempts" in said
    assert not replica_data.exists() or not any(replica_data.iterdir())


def compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_the_compose_file_runs_the_scripts_and_reads_from_the_replica():
    services = compose()["services"]
    mounts = {service: services[service].get("volumes", []) for service in ("db", "replica")}
    assert (
        "./deploy/db/replication.sh:/docker-entrypoint-initdb.d/900_replication.sh:ro"
        in (mounts["db"])
    )
    assert "./deploy/db/replica.sh:/deploy/replica.sh:ro" in mounts["replica"]
    assert services["replica"]["entrypoint"] == ["/deploy/replica.sh"]
    assert services["replica"]["user"] == "postgres"
    assert "hot_standby_feedback=on" in services["replica"]["command"]
    assert services["replica"]["environment"]["ESS_PRIMARY_HOST"] == "db"
    assert services["replica"]["image"] == services["db"]["image"]
    api = services["api"]["environment"]
    assert api["DATABASE_READ_URL"].split("@")[1] == "replica:5432/ess"
    assert api["DATABASE_URL"].split("@")[1] == "db:5432/ess"
