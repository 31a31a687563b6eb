"""SoCP on a small hand-made data set: counts of each cell position as the rack's max and min
cell voltage per operating state (2 A dead band) and SoC decile, shares and means; the period
window, the charge-status filter and the bad inputs of the endpoint."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.helpers import SEOUL, assert_problem, create_scratch_site, day_answer, store
from tests.safety_data import rack_rows

T0 = datetime(2022, 9, 5, 8, 0, tzinfo=SEOUL)
DAY = (datetime(2022, 9, 5, tzinfo=SEOUL), datetime(2022, 9, 6, tzinfo=SEOUL))


def phase(second: int, charge, discharge, rest, low_discharge):
    """seconds 0-39 charge, 40-69 discharge, 70-89 rest, 90-99 discharge at low SoC"""
    if second < 40:
        return charge(second) if callable(charge) else charge
    if second < 70:
        return discharge(second) if callable(discharge) else discharge
    if second < 90:
        return rest
    return low_discharge


def columns() -> dict:
    return {
        # +1.5 A is inside the dead band (rest); -2.0 A is on its edge (discharge)
        "rack_current": lambda s: phase(s, 50.0, -40.0, 1.5, -2.0),
        # deciles 30, 60, 90 (SoC 100 belongs to the top decile) and 0
        "rack_soc": lambda s: phase(s, 35.0, 62.5, 100.0, 9.99),
        "rack_max_cell_voltage_position": lambda s: phase(
            s, lambda t: 7.0 if t < 30 else 12.0, 5.0, 7.0, 5.0
        ),
        "rack_max_cell_voltage": lambda s: phase(
            s, lambda t: 3.95 if t < 30 else 3.96, 3.70, 3.80, 3.55
        ),
        "rack_min_cell_voltage_position": lambda s: phase(
            s, 3.0, lambda t: 7.0 if t < 60 else 9.0, 3.0, 7.0
        ),
        "rack_min_cell_voltage": lambda s: phase(
            s, 3.90, lambda t: 3.60 if t < 60 else 3.58, 3.75, 3.40
        ),
        "rack_max_cell_temperature": lambda s: phase(
            s, lambda t: 31.0 if t < 30 else 33.0, 32.0, 29.0, 28.0
        ),
    }


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        created = create_scratch_site(conn, rack_counts=(3,))  # rack 3 without rows
        rows = rack_rows(created, 1, 1, T0, 100, **columns())
        rows += rack_rows(created, 1, 2, T0, 10)  # quiet, at rest
        store(conn, "rack", rows)
    return created


def socp(conn, site: int, rack: int | None) -> list[tuple]:
    return conn.execute(
        "SELECT * FROM ess.rack_socp(%s, 1, %s, %s, %s)", (site, rack, *DAY)
    ).fetchall()


def test_counts_shares_and_means(conn, site):
    # (state, decile, extreme, position) -> (count, samples, share, voltage, temp, current)
    found = {tuple(row[2:6]): tuple(row[6:]) for row in socp(conn, site, 1)}
    expected = {
        ("charge", 30, "max", 7): (30, 40, 0.75, 3.95, 31.0, 50.0),
        ("charge", 30, "max", 12): (10, 40, 0.25, 3.96, 33.0, 50.0),
        ("charge", 30, "min", 3): (40, 40, 1.0, 3.90, 31.5, 50.0),
        ("discharge", 0, "max", 5): (10, 10, 1.0, 3.55, 28.0, -2.0),
        ("discharge", 0, "min", 7): (10, 10, 1.0, 3.40, 28.0, -2.0),
        ("discharge", 60, "max", 5): (30, 30, 1.0, 3.70, 32.0, -40.0),
        ("discharge", 60, "min", 7): (20, 30, 2 / 3, 3.60, 32.0, -40.0),
        ("discharge", 60, "min", 9): (10, 30, 1 / 3, 3.58, 32.0, -40.0),
        ("rest", 90, "max", 7): (20, 20, 1.0, 3.80, 29.0, 1.5),
        ("rest", 90, "min", 3): (20, 20, 1.0, 3.75, 29.0, 1.5),
    }
    assert set(found) == set(expected)
    for key, values in expected.items():
        assert found[key] == pytest.approx(values), key


def test_rows_are_ordered_by_state_decile_extreme_and_count(conn, site):
    keys = [(r[2], r[3], r[4], -r[6]) for r in socp(conn, site, 1)]
    assert keys == sorted(keys)


def test_all_racks_of_a_bank(conn, site):
    racks = {row[1] for row in socp(conn, site, None)}
    assert racks == {1, 2}
    quiet = [row for row in socp(conn, site, None) if row[1] == 2]
    assert [(r[2], r[3], r[4], r[5], r[6]) for r in quiet] == [
        ("rest", 50, "max", 17, 10),
        ("rest", 50, "min", 5, 10),
    ]


def test_socp_endpoint(site, client):
    url = f"/api/ess/stats/socp/operating-sites/{site}/banks/1/racks/1/"
    answer = client.get(url, params={"period": "1", "end-time": "2022-09-06"})
    assert answer.status_code == 200, answer.text
    items = answer.json()
    assert [(i["charge_status"], i["operating_state"], i["soc_range"]) for i in items] == [
        (0, "charge", 30),
        (1, "discharge", 0),
        (1, "discharge", 60),
        (2, "rest", 90),
    ]
    charge = items[0]
    # time is the day the counts are for: the start of the period's last day
    assert charge["time"] == charge["start_time"] == "2022-09-05T00:00:00+09:00"
    assert charge["end_time"] == "2022-09-06T00:00:00+09:00" and charge["period"] == 1
    assert (charge["operating_site"], charge["bank_id"], charge["rack_id"]) == (site, 1, 1)
    assert charge["samples"] == 40
    assert charge["value"] == {
        "7": {"count": 30, "voltage": pytest.approx(3.95), "temp": 31.0, "current": 50.0},
        "12": {"count": 10, "voltage": pytest.approx(3.96), "temp": 33.0, "current": 50.0},
    }
    assert [(c["cell_position"], c["count"]) for c in charge["positions"]["max"]] == [
        (7, 30),
        (12, 10),
    ]
    assert charge["positions"]["min"][0] == {
        "cell_position": 3,
        "count": 40,
        "share": 1.0,
        "mean_voltage": pytest.approx(3.90),
        "mean_temperature": pytest.approx(31.5),
        "mean_current": pytest.approx(50.0),
    }
    for status in ({"charge-status": "discharge"}, {"charge_status": "1"}):
        discharge = client.get(
            url, params={"period": "7", "end-time": "2022-09-06T00:00:00+09:00", **status}
        ).json()
        assert [(i["charge_status"], i["soc_range"], i["period"]) for i in discharge] == [
            (1, 0, 7),
            (1, 60, 7),
        ]
    both = {"charge_status": "2", "charge-status": "rest", "end-time": "2022-09-06"}
    assert [i["operating_state"] for i in client.get(url, params=both).json()] == ["rest"]
    day = client.get(
        f"/api/ess/stats/socp/operating-sites/{site}/banks/1/racks/",
        params={"start-time": "2022-09-05T00:00:00", "end-time": "2022-09-06T00:00:00"},
    ).json()
    assert {(i["rack_id"], i["charge_status"]) for i in day} == {(1, 0), (1, 1), (1, 2), (2, 2)}


def test_start_time_and_end_time_choose_the_days_each_closing_a_period(site, client):
    url = f"/api/ess/stats/socp/operating-sites/{site}/banks/1/racks/1/"
    window = {"start-time": "2022-09-04", "end-time": "2022-09-07", "charge_status": "0"}
    daily = client.get(url, params=window).json()
    # only the day of the rows closes a one-day period holding them
    assert [(i["time"], i["period"]) for i in daily] == [("2022-09-05T00:00:00+09:00", 1)]
    weekly = client.get(url, params={**window, "period": "7"}).json()
    assert [(i["time"], i["start_time"]) for i in weekly] == [
        ("2022-09-05T00:00:00+09:00", "2022-08-30T00:00:00+09:00"),
        ("2022-09-06T00:00:00+09:00", "2022-08-31T00:00:00+09:00"),
    ]
    assert weekly[0]["value"] == weekly[1]["value"] == daily[0]["value"]
    # a window holding no local midnight holds no day
    inside = {"start-time": "2022-09-05T08:00:00", "end-time": "2022-09-05T08:01:00"}
    assert client.get(url, params=inside).json() == []


def test_date_is_the_one_day_period_of_that_local_day(site, client):
    url = f"/api/ess/stats/socp/operating-sites/{site}/banks/1/racks/"
    items = day_answer(client, url, "2022-09-05")
    assert items == client.get(url, params={"period": "1", "end-time": "2022-09-06"}).json()
    assert {(i["rack_id"], i["period"], i["start_time"]) for i in items} == {
        (1, 1, "2022-09-05T00:00:00+09:00"),
        (2, 1, "2022-09-05T00:00:00+09:00"),
    }


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("racks/1/", {"date": "2022-09-05", "start-time": "2022-09-05"}, 400, "date"),
        ("racks/1/", {"date": "2022-09-05", "end-time": "2022-09-06"}, 400, "date"),
        ("racks/1/", {"date": "2022-09-31"}, 400, "date"),
        ("racks/1/", {"period": "2", "end-time": "2022-09-06"}, 400, "period"),
        ("racks/1/", {"charge_status": "3"}, 400, "charge_status"),
        ("racks/1/", {"charge_status": "charge"}, 400, "charge_status"),
        ("racks/1/", {"charge_status": "1", "charge-status": "charge"}, 400, "charge_status"),
        ("racks/1/", {"period": "7", "charge-status": "1"}, 400, "charge-status"),
        ("racks/1/", {"chargestatus": "1"}, 400, "chargestatus"),
        (
            "racks/1/",
            {"period": "1", "end-time": "2022-09-06", "charge-status": "idle"},
            400,
            "charge-status",
        ),
        ("racks/1/", {"start-time": "2022-09-05"}, 400, "end-time"),
        ("racks/1/", {"start-time": "2022-08-01", "end-time": "2022-09-06"}, 400, "end-time"),
        ("racks/", {"period": "30", "end-time": "2022-09-06"}, 400, "period"),
        ("racks/4/", {"period": "1", "end-time": "2022-09-06"}, 404, "rack"),
    ],
)
def test_bad_inputs_are_problems(site, client, path, params, status, parameter):
    answer = client.get(f"/api/ess/stats/socp/operating-sites/{site}/banks/1/{path}", params=params)
    assert_problem(answer, status, parameter)
