"""A scratch site with a few hundred known rows, shared (read-only) by the operating-data tests.

Site layout: the columns of Panli (site 2), bank 1 with 3 racks, bank 2 with 2 racks. From
START, one row per second for SECONDS seconds per series, except: rack (1, 2) misses second
MISSING, rack_voltage is NULL at second NULL_SECOND, and the PCS has one extra row a quarter
second after the last full second (fractional timestamps)."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.helpers import SEOUL, create_scratch_site

START = datetime(2022, 5, 10, 10, 0, 0, tzinfo=SEOUL)
SECONDS = 60
MISSING = 30
NULL_SECOND = 7
RACKS = {1: 3, 2: 2}
RACK_ROWS = SECONDS * sum(RACKS.values()) - 1
FRACTIONAL_PCS = START + timedelta(seconds=SECONDS, milliseconds=250)

RACK_SQL = """
INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_voltage, rack_current,
    rack_status_for_run, rack_module_fault)
SELECT %(start)s + s * interval '1 second', %(site)s, b, r,
    s + r / 10.0, CASE WHEN s <> %(null_second)s THEN 900 + s END, -1.5,
    s %% 2, jsonb_build_object('module1', s %% 2, 'module2', 0)
FROM generate_series(0, %(seconds)s - 1) AS s,
    (VALUES (1, 1), (1, 2), (1, 3), (2, 1), (2, 2)) AS series (b, r)
WHERE NOT (b = 1 AND r = 2 AND s = %(missing)s)
"""
BANK_SQL = """
INSERT INTO ess.bank (ts, site_id, bank_id, bank_soc, bank_power, master_rack_communication_fault)
SELECT %(start)s + s * interval '1 second', %(site)s, b, 50 + s / 100.0, b * 10.0,
    '{"rack1": 0, "rack2": 1}'::jsonb
FROM generate_series(0, %(seconds)s - 1) AS s, (VALUES (1), (2)) AS banks (b)
"""
PCS_SQL = """
INSERT INTO ess.pcs (ts, site_id, ai_vdc, st_run)
SELECT %(start)s + s * interval '1 second', %(site)s, 800 + s, 1
FROM generate_series(0, %(seconds)s - 1) AS s
UNION ALL SELECT %(fractional)s, %(site)s, 1000, 0
"""
ETC_SQL = """
INSERT INTO ess.etc (ts, site_id, sensor1_temperature, sensor1_humidity)
SELECT %(start)s + s * interval '1 second', %(site)s, 25.5, 40
FROM generate_series(0, %(seconds)s - 1) AS s
"""


def create_site(conn: psycopg.Connection, first_id: int = 700) -> int:
    site_id = create_scratch_site(conn, 2, tuple(RACKS.values()), first_id=first_id, code="od")
    params = {
        "site": site_id,
        "start": START,
        "seconds": SECONDS,
        "missing": MISSING,
        "null_second": NULL_SECOND,
        "fractional": FRACTIONAL_PCS,
    }
    for statement in (RACK_SQL, BANK_SQL, PCS_SQL, ETC_SQL):
        conn.execute(statement, params)
    return site_id
