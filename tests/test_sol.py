"""SoL: (SoH - 80) x 5 from the daily mean SoH, the least-squares forecast (exact on a straight
line, bottom <= value <= top with a widening band on noisy data), the backtest against
persistence, rack level, and the endpoint with its bad inputs."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.helpers import SEOUL, assert_problem, create_scratch_site, store
from tests.safety_data import rack_rows

DAY0 = date(2023, 1, 1)
DAYS = 40  # 2023-01-01 .. 2023-02-09
LAST = DAY0 + timedelta(days=DAYS - 1)


def soh_line(day: int) -> float:
    return 99.0 - 0.02 * day


def soh_noisy(day: int) -> float:
    return soh_line(day) + (0.05 if day % 2 else -0.05)


@pytest.fixture(scope="module")
def site(pool) -> int:
    """Four rows a day (00, 06, 12, 18 h local) for 40 days: bank 1 on a straight SoH line
    (-0.02 %/day), bank 2 on the same line +-0.05 %; rack 1 of bank 1 at a constant 97.5 %."""
    with pool.connection() as conn:
        created = create_scratch_site(conn, rack_counts=(1, 1))
        rows, racks = [], []
        for day in range(DAYS):
            for hour in (0, 6, 12, 18):
                ts = datetime.combine(DAY0 + timedelta(days=day), datetime.min.time(), SEOUL)
                ts += timedelta(hours=hour)
                for bank, soh in ((1, soh_line(day)), (2, soh_noisy(day))):
                    rows.append({"ts": ts, "site_id": created, "bank_id": bank, "bank_soh": soh})
                racks += rack_rows(created, 1, 1, ts, 1, rack_soh=97.5)
        store(conn, "bank", rows)
        store(conn, "rack", racks)
    return created


def test_daily_sol_arithmetic(conn, site):
    days = conn.execute(
        "SELECT day, bank_id, rack_id, soh, sol, n_rows FROM ess.daily_soh(%s, 1, NULL, %s, %s)",
        (site, DAY0, DAY0 + timedelta(days=10)),
    ).fetchall()
    assert len(days) == 11
    for index, (day, bank, rack, soh, sol, n) in enumerate(days):
        assert (day, bank, rack, n) == (DAY0 + timedelta(days=index), 1, None, 4)
        assert soh == pytest.approx(soh_line(index))
        assert sol == pytest.approx((soh_line(index) - 80) * 5)
    assert days[0][4] == pytest.approx(95.0) and days[10][4] == pytest.approx(94.0)


def forecast(conn, site, bank, rack=None, fit_days=30):
    return conn.execute(
        "SELECT day, value, top_limit_value, bottom_limit_value, kind "
        "FROM ess.sol_forecast(%s, %s, %s, %s, %s, %s)",
        (site, bank, rack, date(2023, 2, 1), date(2023, 2, 19), fit_days),
    ).fetchall()


def test_forecast_of_a_straight_line_is_the_line(conn, site):
    rows = forecast(conn, site, 1)
    observed = [r for r in rows if r[4] == "observed"]
    ahead = [r for r in rows if r[4] == "forecast"]
    assert [r[0] for r in observed] == [date(2023, 2, d) for d in range(1, 10)]
    assert all(r[2] is None and r[3] is None for r in observed)
    assert [r[0] for r in ahead] == [date(2023, 2, d) for d in range(10, 20)]
    for day, value, top, bottom, _ in ahead:
        k = (day - DAY0).days
        assert value == pytest.approx((soh_line(k) - 80) * 5, abs=1e-6)
        assert top == pytest.approx(value, abs=1e-6) and bottom == pytest.approx(value, abs=1e-6)


def test_forecast_band_of_noisy_data(conn, site):
    ahead = [r for r in forecast(conn, site, 2) if r[4] == "forecast"]
    assert len(ahead) == 10
    widths = []
    for day, value, top, bottom, _ in ahead:
        assert bottom <= value <= top
        assert value == pytest.approx((soh_line((day - DAY0).days) - 80) * 5, abs=0.2)
        widths.append(top - bottom)
    assert widths == sorted(widths) and widths[0] > 0


def test_trend_and_backtest(conn, site):
    ((bank, rack, origin, fit_start, n, slope, intercept, *_),) = conn.execute(
        "SELECT * FROM ess.sol_trend(%s, 1, NULL, %s, 30)", (site, LAST)
    ).fetchall()
    assert (bank, rack, origin, fit_start, n) == (1, None, LAST, LAST - timedelta(days=29), 30)
    assert slope == pytest.approx(-0.1) and intercept == pytest.approx((soh_line(39) - 80) * 5)
    ((_, _, tested_at, holdout, mae_trend, mae_persistence, coverage),) = conn.execute(
        "SELECT * FROM ess.sol_backtest(%s, 2, NULL, %s, 14, 30)",
        (site, LAST - timedelta(days=14)),
    ).fetchall()
    assert (tested_at, holdout) == (LAST - timedelta(days=14), 14)
    # the SoL falls 0.1 per day: persistence drifts away, the trend stays within the noise
    assert mae_trend < 0.3 < mae_persistence
    assert coverage == 1.0


def test_rack_level(conn, site):
    rows = forecast(conn, site, 1, rack=1)
    assert {r[4] for r in rows} == {"observed", "forecast"}
    assert all(r[1] == pytest.approx(87.5) for r in rows)


def test_sol_endpoint(site, client, pool):
    url = f"/api/ess/stats/forecasting-sol-detail/operating-sites/{site}/banks/"
    # end-date is excluded: 2023-02-01 to 2023-02-19
    params = {"start-date": "2023-02-01", "end-date": "2023-02-20", "fit-days": "30"}
    answer = client.get(url, params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["operating_site"] == site and body["fit_days"] == 30 and body["method"]
    assert {i["bank_id"] for i in body["items"]} == {1, 2}
    first = body["items"][0]
    assert first == {
        "date": "2023-02-01",
        "operating_site": site,
        "bank_id": 1,
        "rack_id": None,
        "value": 91.9,  # (98.38 - 80) x 5 without the float noise of the mean
        "top_limit_value": None,
        "bottom_limit_value": None,
        "kind": "observed",
    }
    assert max(i["date"] for i in body["items"]) == "2023-02-19"
    model = body["models"][1]
    assert (model["bank_id"], model["origin"], model["fit_days_with_data"]) == (2, "2023-02-09", 30)
    assert model["backtest"]["origin"] == "2023-01-26"
    assert model["backtest"]["mae_trend"] < model["backtest"]["mae_persistence"]
    assert model["slope_per_day"] == pytest.approx(-0.1, abs=0.01)
    forecast = [i for i in body["items"] if i["bank_id"] == 2 and i["kind"] == "forecast"]
    assert len(forecast) == 10
    for item in forecast:  # rounded to 3 decimals, the band around the value
        values = (item["bottom_limit_value"], item["value"], item["top_limit_value"])
        assert values == tuple(round(v, 3) for v in values) and values == tuple(sorted(values))
    with pool.connection() as conn:
        exact = conn.execute(
            "SELECT value, top_limit_value FROM ess.sol_forecast(%s, 2, NULL, %s, %s, 30) "
            "WHERE kind = 'forecast' ORDER BY day",
            (site, date(2023, 2, 1), date(2023, 2, 19)),
        ).fetchall()
    assert [(i["value"], i["top_limit_value"]) for i in forecast] == [
        (round(value, 3), round(top, 3)) for value, top in exact
    ]

    one = client.get(url + "2/", params=params).json()
    assert {i["bank_id"] for i in one["items"]} == {2}
    rack = client.get(url + "1/racks/1/", params=params).json()
    assert {(i["rack_id"], i["value"]) for i in rack["items"]} == {(1, 87.5)}


def test_the_earlier_url_answers_the_bare_list_of_days(site, client):
    params = {"start-date": "2023-02-01", "end-date": "2023-02-20", "fit-days": "30"}
    for path in ("", "2/", "1/racks/1/"):
        detail = client.get(
            f"/api/ess/stats/forecasting-sol-detail/operating-sites/{site}/banks/{path}",
            params=params,
        ).json()
        days = client.get(
            f"/api/ess/stats/forecasting-sol/operating-sites/{site}/banks/{path}", params=params
        ).json()
        assert isinstance(days, list) and days == detail["items"]
    one_day = client.get(
        f"/api/ess/stats/forecasting-sol/operating-sites/{site}/banks/2/",
        params={"start-date": "2023-02-01", "end-date": "2023-02-02"},
    ).json()
    assert [i["date"] for i in one_day] == ["2023-02-01"]


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("", {"end-date": "2023-02-19"}, 400, "start-date"),
        ("", {"start-date": "2023-02-01"}, 400, "end-date"),
        ("", {"start-date": "2023-02-01", "end-date": "2023-01-19"}, 400, "end-date"),
        ("", {"start-date": "2023-02-01", "end-date": "2023-02-01"}, 400, "end-date"),
        ("", {"start-date": "2023-02-31", "end-date": "2023-03-19"}, 400, "start-date"),
        ("", {"start-date": "2020-01-01", "end-date": "2024-01-01"}, 400, "end-date"),
        (
            "1/",
            {"start-date": "2023-02-01", "end-date": "2023-02-19", "fit-days": "2"},
            400,
            "fit-days",
        ),
        (
            "1/",
            {"start-date": "2023-02-01", "end-date": "2023-02-19", "fit-days": "x"},
            400,
            "fit-days",
        ),
        ("3/", {"start-date": "2023-02-01", "end-date": "2023-02-19"}, 404, "bank"),
    ],
)
@pytest.mark.parametrize("url", ["forecasting-sol", "forecasting-sol-detail"])
def test_bad_inputs_are_problems(site, client, url, path, params, status, parameter):
    answer = client.get(f"/api/ess/stats/{url}/operating-sites/{site}/banks/{path}", params=params)
    assert_problem(answer, status, parameter)
