"""Every `ess` failure ends in a sentence naming the cause and the fix, on standard error, with
exit status 1 (2 for bad usage) and no traceback unless --debug or ESS_DEBUG=1 asks for it.
Here: databases that cannot be reached or named, the web server's port and startup, `ess load`'s
files, the engine's programs and port, and the messages for what a test cannot stage (see
test_cli_database_errors.py and test_cli_engine_errors.py for real servers and engines)."""

from __future__ import annotations

import os
import shutil

import psycopg
import pytest

from api.cli_errors import Context, Failure, explain
from api.engine import EngineStopped
from api.migrate import MIN_TIMESCALEDB, timescaledb_problem, version
from tests.cli_run import (
    Failing,
    assert_fail_clearly,
    assert_fails_clearly,
    ess,
    ess_env,
    http_like_listener,
    silent_listener,
)
from tests.helpers import free_port

REFUSED = "postgresql://nope@127.0.0.1:1/x"


def test_an_unusable_database_url_is_named(tmp_path):
    def migrate(url: str, status: int, *words: str) -> Failing:
        return Failing(["migrate"], ess_env(tmp_path, DATABASE_URL=url), status, words)

    assert_fail_clearly(
        migrate(
            REFUSED,
            1,
            "cannot connect to the database at 127.0.0.1:1: connection refused",
            "DATABASE_URL",
        ),
        migrate(
            "postgresql://u@nope.invalid/x",
            1,
            "cannot connect to the database at nope.invalid:5432",
            "unknown host 'nope.invalid'",
        ),
        migrate(
            "foo bar", 2, "DATABASE_URL is not a connection URL", "postgresql://USER:PASSWORD@"
        ),
        migrate("postgresql://u@db:fivethousand/x", 2, "the port 'fivethousand' is not a number"),
        migrate("mysql://u@db/x", 2, "DATABASE_URL must start with postgresql://"),
    )


def test_a_server_that_does_not_answer_times_out_with_a_sentence(tmp_path):
    with silent_listener() as port:
        url = f"postgresql://u@127.0.0.1:{port}/x?connect_timeout=1"
        assert_fails_clearly(
            ["migrate"],
            ess_env(tmp_path, DATABASE_URL=url),
            1,
            f"cannot connect to the database at 127.0.0.1:{port}: no answer within the connect "
            "timeout",
        )


def test_ess_debug_in_the_environment_shows_the_traceback(tmp_path):
    process = ess(["migrate"], ess_env(tmp_path, DATABASE_URL=REFUSED, ESS_DEBUG="1"))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "Traceback (most recent call last)" in err
    assert "psycopg.OperationalError" in err
    assert err.rstrip().splitlines()[-1].startswith("ess migrate: cannot connect to the database")


def test_serve_and_run_exit_non_zero_when_the_database_is_gone_at_startup(tmp_path):
    # before: "Application startup failed", an exception group, and exit status 0 (later 3)
    assert_fail_clearly(
        *(
            Failing(
                [command, "--port", str(free_port())],
                ess_env(tmp_path, DATABASE_URL=REFUSED),
                1,
                (f"ess {command}: cannot connect to the database at 127.0.0.1:1: connection",),
            )
            for command in ("serve", "run")
        )
    )


def test_serve_and_run_refuse_a_port_in_use_before_starting_anything(tmp_path):
    with silent_listener() as port:
        # no DATABASE_URL: `ess run` would start an engine, were the port not checked first
        errors = assert_fail_clearly(
            *(
                Failing(
                    [command, "--port", str(port)],
                    ess_env(tmp_path),
                    1,
                    (f"ess {command}: port {port} on 127.0.0.1 is in use", "--port"),
                )
                for command in ("serve", "run")
            )
        )
    assert not any("engine: starting" in err for err in errors)
    assert not (tmp_path / "engine").exists()


def test_load_names_a_directory_a_missing_file_and_an_unsupported_type(tmp_path):
    env = ess_env(tmp_path, DATABASE_URL=REFUSED)  # the files are checked before connecting
    (tmp_path / "rack.xlsx").write_text("not supported")

    def load(path, *words: str) -> Failing:
        return Failing(["load", "--site", "2", "--component", "rack", str(path)], env, 2, words)

    assert_fail_clearly(
        load(tmp_path, f"{tmp_path}: is a directory"),
        load(tmp_path / "no.csv", "no.csv: no such file"),
        load(tmp_path / "rack.xlsx", "rack.xlsx: unsupported file type"),
    )


def test_load_names_a_file_it_may_not_read(tmp_path):
    unreadable = tmp_path / "rack.csv"
    unreadable.write_text("TIMESTAMP,BANK_ID,RACK_ID\n")
    unreadable.chmod(0)
    # root reads any file: drop that capability for the command (setpriv, util-linux)
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")
    assert_fail_clearly(
        Failing(
            ["load", "--site", "2", "--component", "rack", str(unreadable)],
            ess_env(tmp_path, DATABASE_URL=REFUSED),
            2,
            (f"{unreadable}: permission denied",),
            prefix=prefix if os.geteuid() == 0 else (),
        )
    )


def test_load_rejects_a_file_whose_content_is_not_its_format(tmp_path, migrated_url):
    fake = tmp_path / "rack.parquet"
    fake.write_text("TIMESTAMP,BANK_ID,RACK_ID\n2023-04-10 00:00:00,1,1\n")
    process = ess(
        ["load", "--site", "2", "--component", "rack", "--no-refresh", str(fake)],
        ess_env(tmp_path, DATABASE_URL=migrated_url),
    )
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert f"ess load: {fake}: rejected, nothing stored" in err
    assert "Parquet" in err
    assert "Traceback" not in err


def test_a_missing_node_is_named_with_the_alternative(tmp_path):
    env = ess_env(tmp_path, PATH=str(tmp_path / "empty-bin"))
    assert shutil.which("node", path=env["PATH"]) is None
    assert_fails_clearly(
        ["migrate"], env, 1, "Node.js 20+ and npm are needed", "or set DATABASE_URL"
    )


def test_an_engine_port_held_by_another_program_is_named(tmp_path):
    with http_like_listener() as port:
        assert_fails_clearly(
            ["migrate"],
            ess_env(tmp_path, ESS_ENGINE_PORT=str(port)),
            1,
            f"port {port} is taken by a program that does not answer as the embedded engine",
            "ESS_ENGINE_PORT",
        )


# What a test cannot stage with the servers at hand is checked on the messages themselves:
# TimescaleDB's own text (src/loader/loader.c: a FATAL error ending the session) and versions.

CONTEXT = Context(
    command="ess migrate", database_url="postgresql://app@db.example:5433/ess", embedded=False
)


def test_timescaledb_installed_but_not_preloaded_says_what_to_add():
    error = psycopg.OperationalError(
        'connection failed: FATAL:  extension "timescaledb" must be preloaded\n'
        "HINT:  Please preload the timescaledb library via shared_preload_libraries.\n\n"
        "This can be done by editing the config file at: /etc/postgresql/15/main/postgresql.conf"
    )
    failure = explain(error, CONTEXT)
    assert failure == Failure(
        "TimescaleDB is installed on the database at db.example:5433 but not preloaded. Add "
        "timescaledb to shared_preload_libraries in the server's postgresql.conf and restart it."
    )


def test_timescaledb_missing_on_newer_postgresql_uses_the_same_sentence():
    # PostgreSQL 16+ words it so; 15 names the missing control file (test_cli_database_errors)
    error = psycopg.errors.FeatureNotSupported('extension "timescaledb" is not available')
    message = explain(error, CONTEXT).message
    assert message.startswith("TimescaleDB is not installed on the database at db.example:5433")
    assert "shared_preload_libraries" in message


def test_timescaledb_versions():
    where = "the database at db:5432"
    need = ".".join(map(str, MIN_TIMESCALEDB))
    assert version("2.23.0-dev") == (2, 23, 0)
    assert timescaledb_problem(where, "2.23.0", "2.23.0") is None
    assert timescaledb_problem(where, "2.23.0", None) is None  # created by the migration
    assert timescaledb_problem(where, None, None).startswith("TimescaleDB is not installed")
    offered_old = timescaledb_problem(where, "2.11.2", None)
    assert offered_old == (
        f"TimescaleDB 2.11.2 on the database at db:5432 is older than {need}, which the schema "
        f"needs: install TimescaleDB {need} or later on the server, then `ess migrate` again."
    )
    not_updated = timescaledb_problem(where, "2.23.0", "2.9.1")
    assert "TimescaleDB 2.9.1 in the database at db:5432 is older than" in not_updated
    assert "the server offers 2.23.0; run `ALTER EXTENSION timescaledb UPDATE`" in not_updated


def test_a_privilege_error_of_migrate_names_the_login_and_who_may(conn):
    # the error the API's login gets from the schema step of `ess migrate`
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as raised, conn.transaction():
        conn.execute("SET LOCAL ROLE ess_api")
        conn.execute("CREATE TABLE IF NOT EXISTS ess.schema_migration (filename text)")
    message = explain(raised.value, CONTEXT).message
    assert message.startswith("the login 'app' may not do this on the database at db.example")
    assert "permission denied for" in message
    assert "logins in ess_api and ess_analyst only read" in message


def test_a_database_that_closes_the_connection_asks_to_run_the_command_again():
    error = psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly"
    )
    assert explain(error, CONTEXT).message == (
        "the database at db.example:5433 closed the connection while the command ran. Run "
        "`ess migrate` again once the server is back (what was stored before stays stored)."
    )


def test_an_engine_that_stopped_asks_to_run_the_command_again():
    context = Context("ess demo --days 2", "postgresql://postgres@127.0.0.1:55432/postgres", True)
    failure = explain(EngineStopped("the embedded engine stopped while the command ran"), context)
    assert failure.message.endswith("Run `ess demo --days 2` again (it starts the engine again).")
    assert failure.status == 1


def test_an_unexpected_error_is_one_line_pointing_at_debug():
    failure = explain(ExceptionGroup("startup", [ZeroDivisionError("division by zero")]), CONTEXT)
    assert failure == Failure(
        "unexpected ZeroDivisionError: division by zero. Run `ess --debug ...` for the traceback, "
        "and report it."
    )
    assert explain(KeyboardInterrupt(), CONTEXT) == Failure("interrupted", 130)


def test_a_file_error_names_the_file():
    error = PermissionError(13, "Permission denied", "/srv/ess/.data/deid-key")
    assert explain(error, CONTEXT) == Failure("/srv/ess/.data/deid-key: Permission denied")
