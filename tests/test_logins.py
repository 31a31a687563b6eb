"""`ess login`: a login in the API role reads data and writes nothing."""

import psycopg
import pytest

from api.cli import main
from api.database_roles.logins import ensure_login


def test_login_is_created_then_updated_and_is_member_of_its_group(conn):
    name = "ess_test_login_api"
    try:
        assert "created" in ensure_login(conn, name, "ess_api", "first password")
        assert "password updated" in ensure_login(conn, name, "ess_api", "it's 'quoted'")
        member = conn.execute(
            "SELECT pg_has_role(%s, 'ess_api', 'MEMBER'), rolcanlogin FROM pg_roles "
            "WHERE rolname = %s",
            (name, name),
        ).fetchone()
        assert member == (True, True)
        with conn.transaction():
            conn.execute(f"SET LOCAL ROLE {name}")
            assert conn.execute("SELECT count(*) FROM ess.site").fetchone()[0] >= 3
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM ess.site WHERE site_id = 1")
    finally:
        conn.execute(f"DROP ROLE IF EXISTS {name}")


def test_login_refuses_other_groups(conn):
    with pytest.raises(ValueError, match="ess_api, ess_analyst"):
        ensure_login(conn, "ess_test_login_x", "postgres", "pw")


def test_login_command_needs_the_password_in_the_environment(monkeypatch, capsys, migrated_url):
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    monkeypatch.delenv("ESS_TEST_LOGIN_PASSWORD", raising=False)
    assert (
        main(
            [
                "login",
                "ess_test_cli",
                "--role",
                "ess_analyst",
                "--password-env",
                "ESS_TEST_LOGIN_PASSWORD",
            ]
        )
        == 2
    )
    assert "ESS_TEST_LOGIN_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("ESS_TEST_LOGIN_PASSWORD", "secret")
    try:
        assert (
            main(
                [
                    "login",
                    "ess_test_cli",
                    "--role",
                    "ess_analyst",
                    "--password-env",
                    "ESS_TEST_LOGIN_PASSWORD",
                ]
            )
            == 0
        )
        assert "created" in capsys.readouterr().out
    finally:
        with psycopg.connect(migrated_url, autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS ess_test_cli")
