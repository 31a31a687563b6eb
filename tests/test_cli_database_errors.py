"""`ess` against a real PostgreSQL server it cannot use: a wrong password, a database that does
not exist, no TimescaleDB, a login without the privileges of the command (a throw-away plain
PostgreSQL cluster, see tests/plain_postgres.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.cli_run import Failing, assert_fail_clearly, ess_env
from tests.helpers import free_port
from tests.plain_postgres import plain_postgres

READER_PASSWORD = "reader-pw"


@pytest.fixture(scope="module")
def server() -> str:
    """The superuser's URL (no database name); a database `ess` holds an empty ess schema that
    the login ess_reader (in a group like the API's) may not use."""
    port = free_port()
    with plain_postgres(port) as cluster:
        url = cluster.url
        with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE ess")
            conn.execute("CREATE ROLE ess_api NOLOGIN")
            conn.execute(
                f"CREATE ROLE ess_reader LOGIN PASSWORD '{READER_PASSWORD}' IN ROLE ess_api"
            )
        with psycopg.connect(f"{url}/ess", autocommit=True) as conn:
            conn.execute("CREATE SCHEMA ess")
        yield url


def rack_csv(folder: Path) -> str:
    path = folder / "rack.csv"
    path.write_text("TIMESTAMP,BANK_ID,RACK_ID\n2023-04-10 00:00:00,1,1\n")
    return str(path)


def test_wrong_password_missing_database_and_no_timescaledb_are_named(server, tmp_path):
    port = server.rsplit(":", 1)[1]
    csv = rack_csv(tmp_path)
    wrong_password = server.replace(":plain-superuser-pw@", ":wrong@")

    def ess_with(url: str, argv: list[str], *words: str) -> Failing:
        return Failing(argv, ess_env(tmp_path, DATABASE_URL=url), 1, words)

    assert_fail_clearly(
        ess_with(
            f"{wrong_password}/ess",
            ["migrate"],
            f"the database at 127.0.0.1:{port} refused the password of user 'postgres'",
            "Fix the password in DATABASE_URL",
        ),
        ess_with(
            f"{server}/nosuch",
            ["migrate"],
            f"the database at 127.0.0.1:{port} has no database 'nosuch'",
            "createdb nosuch",
        ),
        ess_with(
            f"{server}/ess",
            ["migrate"],
            f"TimescaleDB is not installed on the database at 127.0.0.1:{port}",
            "shared_preload_libraries",
            "or unset DATABASE_URL to use the embedded engine",
        ),
        # a command that needs the schema, on a database that never saw `ess migrate`
        ess_with(
            f"{server}/postgres",
            ["load", "--site", "2", "--component", "rack", csv],
            f"the database at 127.0.0.1:{port} does not hold this version's ESS schema",
            "Run `ess migrate`",
        ),
    )


def test_a_login_without_privileges_is_told_which_login_may(server, tmp_path):
    reader = server.replace("postgres:plain-superuser-pw@", f"ess_reader:{READER_PASSWORD}@")
    env = ess_env(tmp_path, DATABASE_URL=f"{reader}/ess", ESS_LOGIN_PASSWORD="new-login-pw")
    csv = rack_csv(tmp_path)
    who_may = "need the login that owns the ESS schema"
    assert_fail_clearly(
        Failing(
            ["load", "--site", "2", "--component", "rack", csv],
            env,
            1,
            ("the login 'ess_reader' may not do this", "permission denied for schema ess", who_may),
        ),
        Failing(
            ["login", "someone", "--role", "ess_analyst"],
            env,
            1,
            ("the login 'ess_reader' may not do this", "permission denied to create role", who_may),
        ),
    )
