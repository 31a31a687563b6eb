from pathlib import Path

import pytest

from api.config import REPO_ROOT
from api.migrate import MigrationError, migrate, split_statements


def test_reapplying_migrations_is_a_no_op(conn):
    before = conn.execute(
        "SELECT filename, checksum, applied_at FROM ess.schema_migration"
    ).fetchall()
    report = migrate(conn, REPO_ROOT / "sql")
    after = conn.execute(
        "SELECT filename, checksum, applied_at FROM ess.schema_migration"
    ).fetchall()
    assert report.applied == []
    assert sorted(before) == sorted(after)
    assert {name for name, _, _ in after} == {
        p.name for p in (REPO_ROOT / "sql/migrations").glob("*.sql")
    }
    assert "functions/site_admin.sql" in report.reapplied


def test_edited_migration_is_refused(conn, tmp_path: Path):
    applied = sorted((REPO_ROOT / "sql/migrations").glob("*.sql"))[0]
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / applied.name).write_text(applied.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match=f"{applied.name} was applied with checksum"):
        migrate(conn, tmp_path)


def test_new_migration_is_applied_once(conn, tmp_path: Path):
    (tmp_path / "migrations").mkdir()
    for path in (REPO_ROOT / "sql/migrations").glob("*.sql"):
        (tmp_path / "migrations" / path.name).write_text(path.read_text())
    extra = tmp_path / "migrations" / "9999_test_extra.sql"
    extra.write_text("CREATE TABLE ess.test_extra_9999 (x int);")
    try:
        assert migrate(conn, tmp_path).applied == ["9999_test_extra.sql"]
        assert migrate(conn, tmp_path).applied == []
    finally:
        conn.execute("DROP TABLE ess.test_extra_9999")
        conn.execute("DELETE FROM ess.schema_migration WHERE filename = '9999_test_extra.sql'")


def test_split_statements_keeps_function_bodies_whole():
    sql = """
-- a comment; not a statement end
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$
    SELECT 1;
$$;
CREATE MATERIALIZED VIEW v AS SELECT 1;  -- trailing comment
"""
    statements = split_statements(sql)
    assert len(statements) == 2
    assert statements[0].endswith("$$;") and "SELECT 1;" in statements[0]
    assert statements[1].startswith("CREATE MATERIALIZED VIEW v")
