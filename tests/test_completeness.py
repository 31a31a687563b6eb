"""Data completeness per local day and component: rows stored vs 86,400 per series and day, with
the warning (> 2 % missing) and critical (> 5 %) flags, from ess.completeness() and its endpoint."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.catalog.model import load_catalog
from api.refresh import refresh_aggregates
from tests.helpers import SEOUL, assert_problem, create_scratch_site

DAY = date(2022, 6, 7)
DAY_START = datetime(2022, 6, 7, tzinfo=SEOUL)

# One row per second over DAY minus a known gap for rack (ok) and pcs (warning); ten bank rows
# (critical), no etc rows; plus one rack row at 23:59:59 of the day before and one etc row at
# 00:00:00 of the day after.
ROWS_SQL = """
INSERT INTO ess.{component} (ts, site_id{keys})
SELECT ts, %(site)s{key_values}
FROM generate_series(%(start)s::timestamptz, %(start)s::timestamptz + interval '86399 seconds',
                     interval '1 second') AS ts
WHERE NOT (ts >= %(start)s::timestamptz + interval '10 hours'
           AND ts < %(start)s::timestamptz + interval '10 hours' + %(gap)s * interval '1 second')
"""
GAPS = {"rack": 1_000, "pcs": 3_000}  # 1.157 % and 3.472 % missing
KEYS = {"rack": (", bank_id, rack_id", ", 1, 1"), "pcs": ("", "")}


@pytest.fixture(scope="module")
def site_with_gaps(pool) -> int:
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(1,))
        conn.execute(
            "UPDATE ess.site SET data_since = %s WHERE site_id = %s",
            (DAY - timedelta(days=1), site_id),
        )
        for component, gap in GAPS.items():
            keys, values = KEYS[component]
            conn.execute(
                ROWS_SQL.format(component=component, keys=keys, key_values=values),
                {"site": site_id, "start": DAY_START, "gap": gap},
            )
        conn.execute(
            "INSERT INTO ess.rack (ts, site_id, bank_id, rack_id) VALUES (%s, %s, 1, 1)",
            (DAY_START - timedelta(seconds=1), site_id),
        )
        conn.execute(
            "INSERT INTO ess.bank (ts, site_id, bank_id) "
            "SELECT %s::timestamptz + n * interval '1 minute', %s, 1 FROM generate_series(1, 10) n",
            (DAY_START, site_id),
        )
        conn.execute(
            "INSERT INTO ess.etc (ts, site_id) VALUES (%s, %s)",
            (DAY_START + timedelta(days=1), site_id),
        )
        refresh_aggregates(conn, DAY_START - timedelta(days=1), DAY_START + timedelta(days=2))
    return site_id


def by_day_and_component(items):
    return {(item["date"], item["component"]): item for item in items}


def test_known_gaps_give_the_expected_counts_and_flags(site_with_gaps, client):
    response = client.get(
        f"/api/ess/operating-sites/{site_with_gaps}/completeness/",
        params={"start-date": str(DAY - timedelta(days=2)), "end-date": str(DAY + timedelta(1))},
    )
    assert response.status_code == 200, response.text
    items = by_day_and_component(response.json())
    # the day before data_since is not expected to have data; three days of four components
    assert {d for d, _ in items} == {"2022-06-06", "2022-06-07", "2022-06-08"}
    assert len(items) == 12
    day = {c: items["2022-06-07", c] for c in ("rack", "bank", "pcs", "etc")}
    assert day["rack"] == {
        "date": "2022-06-07",
        "component": "rack",
        "series": 1,
        "rows_expected": 86_400,
        "rows_stored": 85_400,
        "missing_rows": 1_000,
        "missing_pct": pytest.approx(1.157, abs=1e-3),
        "status": "ok",
    }
    assert (day["pcs"]["rows_stored"], day["pcs"]["status"]) == (83_400, "warning")
    assert day["pcs"]["missing_pct"] == pytest.approx(3.472, abs=1e-3)
    assert (day["bank"]["rows_stored"], day["bank"]["status"]) == (10, "critical")
    assert (day["etc"]["rows_stored"], day["etc"]["missing_pct"]) == (0, 100.0)
    # the rows at 23:59:59 and 00:00:00 local belong to the neighbouring days
    assert items["2022-06-06", "rack"]["rows_stored"] == 1
    assert items["2022-06-08", "etc"]["rows_stored"] == 1
    assert items["2022-06-08", "rack"]["status"] == "critical"


def test_the_sql_function_takes_other_thresholds(site_with_gaps, pool):
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT component, status FROM ess.completeness(%s, %s, %s, "
            "warning_pct => 1.2, critical_pct => 3) ORDER BY component",
            (site_with_gaps, DAY, DAY),
        ).fetchall()
    assert rows == [("bank", "critical"), ("etc", "critical"), ("pcs", "critical"), ("rack", "ok")]
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT status FROM ess.completeness(%s, %s, %s, warning_pct => 1.1) "
            "WHERE component = 'rack'",
            (site_with_gaps, DAY, DAY),
        ).fetchall()
    assert rows == [("warning",)]


def test_today_expects_only_the_elapsed_seconds_and_the_future_nothing(pool, client):
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(2, 1))
        client.app.state.catalog = load_catalog(conn)
    today = datetime.now(SEOUL).date()
    response = client.get(
        f"/api/ess/operating-sites/{site_id}/completeness/",
        params={"start-date": str(today), "end-date": str(today + timedelta(days=3))},
    )
    assert response.status_code == 200, response.text
    items = by_day_and_component(response.json())
    assert {d for d, _ in items} == {str(today)}
    elapsed = datetime.now(SEOUL) - datetime(today.year, today.month, today.day, tzinfo=SEOUL)
    racks = items[str(today), "rack"]
    assert racks["series"] == 3
    assert abs(racks["rows_expected"] - 3 * elapsed.total_seconds()) < 3 * 120


def test_a_daylight_saving_day_has_23_hours_and_local_midnights(pool, client):
    berlin = ZoneInfo("Europe/Berlin")
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(1,), timezone="Europe/Berlin")
        client.app.state.catalog = load_catalog(conn)
        midnight = datetime(2022, 3, 27, tzinfo=berlin)
        conn.execute(
            "INSERT INTO ess.pcs (ts, site_id) VALUES (%s, %s), (%s, %s)",
            (midnight - timedelta(seconds=1), site_id, midnight, site_id),
        )
        refresh_aggregates(conn, midnight - timedelta(days=1), midnight + timedelta(days=1))
    response = client.get(
        f"/api/ess/operating-sites/{site_id}/completeness/",
        params={"start-date": "2022-03-26", "end-date": "2022-03-27"},
    )
    assert response.status_code == 200, response.text
    items = by_day_and_component(response.json())
    assert items["2022-03-26", "pcs"]["rows_expected"] == 86_400
    assert items["2022-03-27", "pcs"]["rows_expected"] == 82_800
    assert items["2022-03-26", "pcs"]["rows_stored"] == 1
    assert items["2022-03-27", "pcs"]["rows_stored"] == 1


def test_a_slower_cadence_is_judged_against_its_own_expected_rows(pool, client):
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(1,))
        client.app.state.catalog = load_catalog(conn)
        conn.execute(  # every 10 s of DAY except 300 of the 8,640 samples (3.47 %)
            "INSERT INTO ess.pcs (ts, site_id) SELECT ts, %s FROM generate_series("
            "%s::timestamptz, %s::timestamptz + interval '86390 seconds', '10 seconds') ts "
            "WHERE NOT (ts >= %s::timestamptz + interval '2 hours' "
            "AND ts < %s::timestamptz + interval '2 hours 50 minutes')",
            (site_id, DAY_START, DAY_START, DAY_START, DAY_START),
        )
        refresh_aggregates(conn, DAY_START, DAY_START + timedelta(days=1))
    response = client.get(
        f"/api/ess/operating-sites/{site_id}/completeness/",
        params={"start-date": str(DAY), "sample-interval": "10s"},
    )
    assert response.status_code == 200, response.text
    pcs = by_day_and_component(response.json())[str(DAY), "pcs"]
    assert (pcs["rows_expected"], pcs["rows_stored"], pcs["status"]) == (8_640, 8_340, "warning")


@pytest.mark.parametrize(
    ("params", "parameter", "status"),
    [
        ({}, "start-date", 400),
        ({"start-date": "2022-02-30"}, "start-date", 400),
        ({"start-date": "2022-06-07", "end-date": "June 8"}, "end-date", 400),
        ({"start-date": "2022-06-07", "end-date": "2022-06-06"}, "end-date", 400),
        ({"start-date": "2022-01-01", "end-date": "2023-01-02"}, "end-date", 400),
        ({"start-date": "2022-06-07", "sample-interval": "0s"}, "sample-interval", 400),
        ({"start-date": "2022-06-07", "sample-interval": "often"}, "sample-interval", 400),
    ],
)
def test_bad_dates_are_problems_naming_the_parameter(
    site_with_gaps, client, params, parameter, status
):
    response = client.get(f"/api/ess/operating-sites/{site_with_gaps}/completeness/", params=params)
    assert_problem(response, status, parameter)


def test_unknown_site_is_a_404(client):
    response = client.get("/api/ess/operating-sites/777/completeness/?start-date=2022-06-07")
    assert response.status_code == 404
    assert response.json()["parameter"] == "site"
