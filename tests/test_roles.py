"""The database roles: ess_api reads and never writes; ess_analyst reads the de-identified
views, the catalog, the aggregates and the wrapped analytics, and nothing raw. Verified with
SET ROLE, which both the embedded engine and a real server enforce."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from api.database_roles.grants import readable_aggregates
from api.deid import apply_views
from tests.helpers import TEST_DEID_KEY

RAW_TABLES = ("ess.bank", "ess.rack", "ess.pcs", "ess.etc", "ess.bms_flag")


@contextmanager
def as_role(conn: psycopg.Connection, role: str) -> Iterator[None]:
    conn.execute(f"SET ROLE {role}")
    try:
        yield
    finally:
        conn.execute("RESET ROLE")


def refused(conn: psycopg.Connection, query: str, params=None) -> bool:
    try:
        with conn.transaction():
            conn.execute(query, params)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


@pytest.fixture
def site_with_views(conn, scratch_site) -> int:
    site = scratch_site(template_site=2, rack_counts=(1,))
    conn.execute(
        "INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_max_cell_voltage,"
        " rack_min_cell_voltage, rack_cell_voltage_gap, rack_current, rack_max_cell_temperature,"
        " rack_min_cell_temperature, rack_cell_temperature_gap)"
        " VALUES ('2024-03-01T00:00:00+09:00', %s, 1, 1, 50, 3.9, 3.85, 0.05, 10, 30, 25, 5)",
        (site,),
    )
    apply_views(conn, TEST_DEID_KEY)
    return site


def test_analyst_is_refused_on_raw_tables_and_allowed_on_deidentified_views(conn, site_with_views):
    site = site_with_views
    with as_role(conn, "ess_analyst"):
        for table in RAW_TABLES:
            assert refused(conn, f"SELECT * FROM {table} LIMIT 1"), table
        assert refused(conn, "SELECT rack_soc FROM ess.rack LIMIT 1")
        assert refused(
            conn, "SELECT * FROM ess.rack_sos(%s, 1, 1, now() - interval '1 day', now())", (site,)
        )
        rows = conn.execute(f"SELECT rack_soc FROM ess_deid.site{site}_rack").fetchall()
        assert rows == [(50.0,)]
        assert conn.execute("SELECT count(*) FROM ess_deid.dictionary").fetchone()[0] > 0
        for table in ("ess.site", "ess.site_bank", "ess.component", "ess.site_column"):
            assert not refused(conn, f"SELECT * FROM {table}"), table
        assert refused(conn, "INSERT INTO ess.site_bank VALUES (%s, 9, 1)", (site,))


def test_analyst_reads_view_names_but_not_view_definitions(conn, site_with_views):
    with as_role(conn, "ess_analyst"):
        assert refused(conn, "SELECT definition FROM pg_views WHERE schemaname = 'ess_deid'")
        assert refused(conn, "SELECT pg_get_viewdef('ess_deid.site2_rack'::regclass)")
        assert refused(conn, "SELECT ev_action FROM pg_rewrite")
        assert conn.execute(
            "SELECT count(*) FROM pg_views WHERE schemaname = 'ess_deid' AND viewname = %s",
            (f"site{site_with_views}_rack",),
        ).fetchone() == (1,)


def test_analyst_calls_the_wrapped_analytics(conn, site_with_views):
    with as_role(conn, "ess_analyst"):
        rows = conn.execute(
            "SELECT sos_score, sos_class FROM ess_deid.rack_sos(%s, 1, 1,"
            " '2024-03-01T00:00:00+09:00', '2024-03-01T00:01:00+09:00')",
            (site_with_views,),
        ).fetchall()
    assert len(rows) == 1 and rows[0][1] == "safe"


def test_analyst_reads_continuous_aggregates_without_sensitive_columns(conn, site_with_views):
    aggregates = [
        name
        for (name,) in conn.execute(
            "SELECT view_name FROM timescaledb_information.continuous_aggregates"
            " WHERE view_schema = 'ess'"
        ).fetchall()
    ]
    assert aggregates
    with as_role(conn, "ess_analyst"):
        for name in aggregates:
            assert not refused(conn, f"SELECT * FROM ess.{name} LIMIT 1"), name


def test_an_aggregate_of_a_flag_and_its_rollups_are_refused():
    readable, refused_names = readable_aggregates(
        {
            "rack_1m": "SELECT avg(rack.rack_soc) FROM ess.rack",
            "flags_1m": "SELECT max(rack.rack_over_temperature_fault) AS x FROM ess.rack",
            "flags_1h": "SELECT max(x) FROM ess.flags_1m",
            "flags_1d": "SELECT max(x) FROM ess.flags_1h",
        },
        {"rack_over_temperature_fault"},
    )
    assert readable == ["rack_1m"]
    assert refused_names == ["flags_1d", "flags_1h", "flags_1m"]


def test_api_role_reads_everything_and_writes_nothing(conn, site_with_views):
    site = site_with_views
    with as_role(conn, "ess_api"):
        for table in (*RAW_TABLES, f"ess_deid.site{site}_rack", "ess.rack_1m"):
            assert not refused(conn, f"SELECT * FROM {table} LIMIT 1"), table
        assert not refused(
            conn, "SELECT * FROM ess.rack_sos(%s, 1, 1, now() - interval '1 day', now())", (site,)
        )
        assert refused(
            conn,
            "INSERT INTO ess.rack (ts, site_id, bank_id, rack_id) VALUES (now(), %s, 1, 1)",
            (site,),
        )
        assert refused(conn, "DELETE FROM ess.site WHERE site_id = %s", (site,))
        assert refused(conn, "CREATE TABLE ess.intruder (x int)")
