"""Forecasts: the six URLs and the models URL on demo data of a scratch site, the targets and
baselines against the stored aggregates, no leakage, DST, the model round trip, intervals,
training while serving, bad input; the split-conformal rule on its own."""

from __future__ import annotations

import argparse
import io
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.catalog.model import load_catalog
from api.demo import generate
from api.forecasting import command, models
from api.forecasting.execute import SOS_CLASSES_SQL, SoSClassBounds
from api.forecasting.features import read_minute_grid, ten_minute_frame
from api.forecasting.frames import read_rows
from api.forecasting.targets import FEATURES, HOUR, MINUTE, TARGETS, TEN_MINUTE_TARGETS
from api.forecasting.train import (
    TEST_DAYS,
    ForecastError,
    day_ahead_samples,
    rolling_origin,
    ten_minute_samples,
    train_site,
    training_window,
)
from tests.helpers import assert_problem, bearer, create_scratch_site, settings_for_tests

FIRST_DAY = date(2023, 4, 5)
DAYS = 5
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
SEOUL = ZoneInfo("Asia/Seoul")
TEN_MINUTES = timedelta(minutes=10)


@pytest.fixture(scope="module")
def site(pool) -> int:
    """A one-bank, two-rack site with five demo days at 1-minute rows, trained."""
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(2,))
        generate(conn, sites=(site_id,), start=FIRST_DAY, days=DAYS, interval=timedelta(minutes=1))
        found = load_catalog(conn).require_site(site_id)
        train_site(conn, found, None, DAYS)
    return site_id


@pytest.fixture(scope="module")
def api(pool, site) -> TestClient:
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        client.headers.update(bearer())
        yield client


def url(target_path: str, site: int, rack: int | None = 1) -> str:
    racks = "racks/" if rack is None else f"racks/{rack}/"
    return f"/api/ess/stats/{target_path}/operating-sites/{site}/banks/1/{racks}"


AFTERNOON = {"start-time": f"{LAST_DAY}T13:00:00", "end-time": f"{LAST_DAY}T14:00:00"}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@pytest.mark.parametrize("rack", [None, 2])
def test_every_url_answers(api, site, target, rack):
    answer = api.get(url(target.path, site, rack), params=AFTERNOON)
    assert answer.status_code == 200, answer.text
    items = answer.json()
    # at most one item per rack and issue time, fewer where the demo left a minute out
    steps = 1 if target.day_ahead else 60
    assert (
        0.9 * steps * (2 if rack is None else 1) <= len(items) <= steps * (2 if rack is None else 1)
    )
    item = items[0]
    assert item["version"] == "v1" and item["operating_site"] == site
    assert item["model"] in item["values"] or item["model"] == "persistence"
    if target.day_ahead:
        assert len(item["values"]["time"]) == 24
        assert all(len(item["values"][m]) == 24 for m in ("linear", "lightgbm", "lower"))
        assert None not in item["values"]["lightgbm"]
    else:
        assert set(item["values"]) == {
            "observed",
            "persistence",
            "seasonal_naive",
            "linear",
            "lightgbm",
        }
        assert all(v is not None for v in item["values"].values())
    if target.name == "sos":
        assert item["class"]["observed"] in ("safe", "warning", "unsafe")


def test_models_url_lists_the_backtest(api, site):
    models_ = api.get(f"/api/ess/stats/forecasting-models/operating-sites/{site}/").json()
    assert {m["target"] for m in models_} == {t.name for t in TARGETS}
    for model in models_:
        metrics = model["metrics"]
        assert metrics["persistence"]["skill"] == 0
        assert all(m["n"] > 0 and 0 <= m["coverage"] <= 1 for m in metrics.values())
        best = min(metrics, key=lambda name: metrics[name]["mae"])
        assert model["model"] == best
        assert model["beats_persistence"] == (best != "persistence")


def test_models_url_times_are_in_the_answer_zone(api, site):
    path = f"/api/ess/stats/forecasting-models/operating-sites/{site}/"
    local, utc = api.get(path).json(), api.get(path, params={"tz": "UTC"}).json()
    for key in ("trained_at", "train_start", "train_end"):
        in_local = [datetime.fromisoformat(m[key]) for m in local]
        in_utc = [datetime.fromisoformat(m[key]) for m in utc]
        assert {t.utcoffset() for t in in_local} == {timedelta(hours=9)}  # the site's zone
        assert {t.utcoffset() for t in in_utc} == {timedelta(0)}
        assert in_local == in_utc
    assert_problem(api.get(path, params={"tz": "Mars/Base"}), 400, "tz")
    assert_problem(api.get(path, params={"date": "2023-04-09"}), 400, "date")


def minute_values(pool, site: int, column: str, start: datetime, end: datetime) -> dict:
    with pool.connection() as conn:
        rows = conn.execute(
            f"SELECT bucket + interval '1 minute', {column} FROM ess.rack_1m "
            "WHERE site_id = %s AND bank_id = 1 AND rack_id = 1 AND bucket >= %s AND bucket < %s",
            (site, start, end),
        )
        return dict(rows.fetchall())


def test_target_time_and_baselines_are_the_stored_minutes(api, site, pool):
    items = api.get(url("forecasting-max-cell-voltage", site), params=AFTERNOON).json()
    start = datetime.fromisoformat(items[0]["time"])
    stored = minute_values(
        pool,
        site,
        "max_rack_max_cell_voltage",
        start - timedelta(days=1),
        start + timedelta(hours=2),
    )
    for item in items:
        issued = datetime.fromisoformat(item["time"])
        target = datetime.fromisoformat(item["target_time"])
        assert target - issued == TEN_MINUTES
        assert item["values"]["persistence"] == stored[issued]
        assert item["values"]["seasonal_naive"] == stored.get(target - timedelta(days=1))
        assert item["observed_at_target"] == stored.get(target)
        served = item["values"][item["model"]]
        if served is None:  # no forecast where the model's inputs are missing: no interval
            assert item["lower"] is None and item["upper"] is None
        else:
            assert item["lower"] <= served <= item["upper"]


def test_sos_forecast_uses_the_platform_sos(api, site, pool):
    items = api.get(url("forecasting-rack-sos", site), params=AFTERNOON).json()
    first = datetime.fromisoformat(items[0]["time"])
    with pool.connection() as conn:
        sos = dict(
            conn.execute(
                "SELECT bucket + interval '1 minute', sos_score "
                "FROM ess.rack_sos(%s, 1, 1, %s, %s)",
                (site, first - timedelta(minutes=1), first + timedelta(hours=1)),
            ).fetchall()
        )
    assert [i["values"]["observed"] for i in items] == [
        sos[datetime.fromisoformat(i["time"])] for i in items
    ]
    # the classes are ess.sos_class()'s, the SQL's one definition
    scores = [i["values"][i["model"]] for i in items] + [i["values"]["observed"] for i in items]
    with pool.connection() as conn:
        classes = conn.execute(
            "SELECT array_agg(ess.sos_class(s) ORDER BY n) FROM unnest(%s::float8[]) "
            "WITH ORDINALITY AS u (s, n)",
            (scores,),
        ).fetchone()[0]
    served = [i["class"]["forecast"] for i in items] + [i["class"]["observed"] for i in items]
    assert served == classes


def test_sos_classes_come_from_the_sql(conn):
    """The forecasts classify with the bounds ess.sos_class() uses, at and beside each bound."""
    bounds = SoSClassBounds(*conn.execute(SOS_CLASSES_SQL).fetchone())
    scores = [1.0, 0.8, 0.7999, 0.4096, 0.4095, 0.0, None]
    expected = [conn.execute("SELECT ess.sos_class(%s)", (s,)).fetchone()[0] for s in scores]
    assert [bounds.of(s) for s in scores] == expected
    assert expected == ["safe", "safe", "warning", "warning", "unsafe", "unsafe", None]


def test_a_model_survives_the_database_round_trip(site, conn):
    """The stored booster text and linear weights predict what the API serves."""
    stored = conn.execute(
        "SELECT m.lightgbm_model, m.linear_weights FROM ess.forecast_model_current AS c "
        "JOIN ess.forecast_model AS m USING (model_id) WHERE c.site_id = %s "
        "AND c.forecast_target = 'max_cell_voltage'",
        (site,),
    ).fetchone()
    start = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, 13, tzinfo=SEOUL)
    rows = read_rows(
        conn,
        False,
        site,
        1,
        1,
        "max_cell_voltage",
        start,
        start + TEN_MINUTES,
        timedelta(minutes=1),
    )
    features = np.array([[getattr(r, n) for n in FEATURES] for r in rows], dtype=float)
    booster = models.booster_from_text(stored[0])
    again = models.booster_from_text(booster.model_to_string())
    assert np.array_equal(booster.predict(features), again.predict(features))
    weights = np.array(stored[1])
    for row in rows:
        assert row.linear == pytest.approx(row.observed + np.dot(row.linear_inputs, weights))


def test_training_features_are_the_served_ones(site, conn):
    """Training computes ess.forecast()'s features in numpy from one read of the site's minute
    values: bit for bit the numbers served, for every 10-minute target (missing minutes
    included), over six hours around a local midnight. The linear inputs' sin and cos of the
    time of day may differ in the last bit (the engine's C library)."""
    midnight = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, tzinfo=SEOUL)
    start, end = midnight - timedelta(hours=3), midnight + timedelta(hours=3)
    grid = read_minute_grid(conn, site, start, end, SEOUL)
    for target in TEN_MINUTE_TARGETS:
        frame = ten_minute_frame(grid, target.name, start, end)
        rows = read_rows(conn, False, site, None, None, target.name, start, end, MINUTE)
        assert len(rows) == len(frame.observed) > 0.9 * 2 * 6 * 60
        served = np.array([[getattr(r, name) for name in FEATURES] for r in rows], dtype=float)
        np.testing.assert_array_equal(frame.features, served, err_msg=target.name)
        np.testing.assert_array_equal(
            frame.observed_at_target, np.array([r.observed_at_target for r in rows], dtype=float)
        )
        np.testing.assert_array_equal(
            frame.day,
            [
                (r.target_time - MINUTE).astimezone(SEOUL).toordinal()
                if r.target_time <= end
                else np.nan
                for r in rows
            ],
        )
        np.testing.assert_allclose(
            frame.linear_inputs, [r.linear_inputs for r in rows], rtol=0, atol=1e-15
        )


def test_day_ahead_lightgbm_is_the_stored_booster(api, site, pool):
    """The 24-hour LightGBM values are the stored booster's on the documented features (the
    value at t, the seasonal value, the horizon, the target's local hour), with the interval
    of the chosen model around the chosen values."""
    with pool.connection() as conn:  # returned before the API asks the engine's one session
        text = conn.execute(
            "SELECT m.lightgbm_model FROM ess.forecast_model_current AS c "
            "JOIN ess.forecast_model AS m USING (model_id) WHERE c.site_id = %s "
            "AND c.forecast_target = 'max_cell_voltage_day_ahead'",
            (site,),
        ).fetchone()[0]
    booster = models.booster_from_text(text)
    path = url("multi-step-forecasting-max-cell-voltage", site, None)
    answer = api.get(path, params=AFTERNOON)
    assert answer.status_code == 200, answer.text
    items = answer.json()
    assert items
    for item in items:
        values = item["values"]
        features = [
            [
                values["persistence"][h],
                np.nan if values["seasonal_naive"][h] is None else values["seasonal_naive"][h],
                h + 1,
                datetime.fromisoformat(values["time"][h]).hour,
            ]
            for h in range(24)
        ]
        expected = np.array(values["persistence"]) + booster.predict(np.array(features))
        assert values["lightgbm"] == pytest.approx(expected.tolist(), rel=1e-12)
        chosen = values[item["model"]]
        assert all(
            lo <= v <= up
            for lo, v, up in zip(values["lower"], chosen, values["upper"], strict=True)
        )


def test_no_leakage_changing_data_after_t(api, site, pool):
    issued = datetime(LAST_DAY.year, LAST_DAY.month, LAST_DAY.day, 20, tzinfo=SEOUL)
    params = {
        "start-time": issued.isoformat(),
        "end-time": (issued + timedelta(minutes=1)).isoformat(),
    }
    path = url("forecasting-max-cell-voltage", site)
    before = api.get(path, params=params).json()

    def shift(volts: float) -> None:
        with pool.connection() as conn:
            conn.execute(
                "UPDATE ess.rack SET rack_max_cell_voltage = rack_max_cell_voltage + %s "
                "WHERE site_id = %s AND ts >= %s AND ts < %s",
                (volts, site, issued, issued + timedelta(hours=1)),
            )
            conn.execute(
                "CALL refresh_continuous_aggregate('ess.rack_1m', %s, %s)",
                (issued - timedelta(minutes=1), issued + timedelta(hours=1)),
            )

    shift(0.3)
    try:
        after = api.get(path, params=params).json()
    finally:
        shift(-0.3)
    assert after[0]["observed_at_target"] == pytest.approx(before[0]["observed_at_target"] + 0.3)
    for key in ("values", "lower", "upper", "time", "target_time"):
        assert after[0][key] == before[0][key]


def test_target_time_is_exact_across_a_dst_change(pool):
    """America/New_York springs forward on 2023-03-12 at 02:00 local: the issue times of that
    local day are 23 x 60 minutes, each target 10 minutes (600 s) later."""
    with pool.connection() as conn:
        site = create_scratch_site(conn, rack_counts=(1,), timezone="America/New_York")
        generate(
            conn, sites=(site,), start=date(2023, 3, 11), days=2, interval=timedelta(minutes=1)
        )
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        client.headers.update(bearer())
        items = client.get(
            url("forecasting-max-cell-temperature", site), params={"date": "2023-03-12"}
        ).json()
    issued = [datetime.fromisoformat(i["time"]) for i in items]
    assert len(set(issued)) == len(issued) > 0.9 * 23 * 60
    offsets = {datetime.fromisoformat(i["time"]).utcoffset() for i in items}
    assert offsets == {timedelta(hours=-5), timedelta(hours=-4)}
    for item in items:
        issued = datetime.fromisoformat(item["time"])
        assert datetime.fromisoformat(item["target_time"]) - issued == TEN_MINUTES
    # 01:5x EST is followed by 03:0x EDT: ten minutes later reads 70 minutes later on the wall
    before_change = [i for i in items if i["time"].startswith("2023-03-12T01:5")]
    assert before_change
    for item in before_change:
        assert item["target_time"] == f"2023-03-12T03:0{item['time'][15]}:00-04:00"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"date": "2023-04-09", "feilds": "x"}, "feilds"),
        ({"date": "2023-02-30"}, "date"),
        ({"start-time": "2023-04-09T00:00:00"}, "end-time"),
        ({"date": "2023-04-09", "time-bucket-width": "90s"}, "time-bucket-width"),
        ({"date": "2023-04-09", "time-bucket-width": "soon"}, "time-bucket-width"),
        ({"date": "2023-04-09", "tz": "Mars/Base"}, "tz"),
        ({"start-time": "2023-04-01", "end-time": "2023-04-30"}, "time-bucket-width"),
    ],
)
def test_bad_input_is_a_problem_naming_the_parameter(api, site, params, parameter):
    answer = api.get(url("forecasting-min-cell-voltage", site, None), params=params)
    assert_problem(answer, 400, parameter)


def test_day_ahead_steps_are_whole_hours(api, site):
    answer = api.get(
        url("multi-step-forecasting-max-cell-voltage", site),
        params={"date": str(LAST_DAY), "time-bucket-width": "30 minutes"},
    )
    assert_problem(answer, 400, "time-bucket-width")


def test_unknown_rack_is_404(api, site):
    assert_problem(api.get(url("forecasting-rack-sos", site, 9), params=AFTERNOON), 404)


def test_training_while_the_api_serves(api, pool, site):
    """A new version appears between requests; every answer is complete and of one version."""
    with pool.connection() as conn:
        found = load_catalog(conn).require_site(site)
    failures: list[BaseException] = []

    def train() -> None:
        try:
            with pool.connection() as conn:
                train_site(conn, found, None, DAYS, targets=(TARGETS[0],))
        except BaseException as exc:
            failures.append(exc)

    trainer = threading.Thread(target=train)
    trainer.start()
    versions = set()
    while trainer.is_alive():
        answer = api.get(url(TARGETS[0].path, site), params=AFTERNOON)
        assert answer.status_code == 200, answer.text
        served = {i["version"] for i in answer.json()}
        assert len(served) == 1
        versions |= served
    trainer.join()
    assert not failures
    last = api.get(url(TARGETS[0].path, site), params=AFTERNOON).json()
    assert int(last[0]["version"][1:]) == max(int(v[1:]) for v in versions | {"v2"})


def test_backtest_days_hold_every_target_of_their_day(site, conn):
    """Each held-out day scores every stored target minute of that local day (the issue times
    from 23:51 the day before to 23:50), and the stored interval is calibrated on every residual
    of the last day; targets past the window (here: the midnight after it) belong to no day."""
    catalog_site = load_catalog(conn).require_site(site)
    start, end = training_window(conn, catalog_site, None, DAYS)
    grid = read_minute_grid(conn, site, start, end, SEOUL)
    held_out = [LAST_DAY - timedelta(days=k) for k in range(TEST_DAYS - 1, -1, -1)]

    def targets_of(day: date, target: str) -> list:
        midnight = datetime(day.year, day.month, day.day, tzinfo=SEOUL)
        next_midnight = midnight + timedelta(days=1)
        return [
            r
            for r in read_rows(
                conn,
                False,
                site,
                None,
                None,
                target,
                midnight - TEN_MINUTES + MINUTE,
                next_midnight - TEN_MINUTES + MINUTE,
                MINUTE,
            )
            if r.observed_at_target is not None
        ]

    for target in TEN_MINUTE_TARGETS:
        samples = ten_minute_samples(ten_minute_frame(grid, target.name, start, end))
        folds, final = rolling_origin(samples)
        for day, fold in zip(held_out, folds, strict=True):
            rows = targets_of(day, target.name)
            scored = [r for r in rows if r.seasonal_naive is not None]
            assert int(fold.test.sum()) == len(scored) > 0.9 * 2 * 1440, (target.name, day)
            assert int(fold.calibration.sum()) == len(
                targets_of(day - timedelta(days=1), target.name)
            )
        assert (
            int(final.calibration.sum()) == len(targets_of(LAST_DAY, target.name)) > 0.9 * 2 * 1440
        )
    rows = read_rows(conn, True, site, None, None, "max_cell_voltage_day_ahead", start, end, HOUR)

    def hours_of(day: date, scored: bool) -> int:
        """(issue time, horizon) pairs whose target hour starts on `day` and is stored."""
        return sum(
            (target - HOUR).astimezone(SEOUL).date() == day
            and value is not None
            and (seasonal is not None or not scored)
            for r in rows
            for target, value, seasonal in zip(
                r.target_times, r.observed_at_target, r.seasonal_naive, strict=True
            )
        )

    folds, final = rolling_origin(day_ahead_samples(rows, end, SEOUL))
    for day, fold in zip(held_out, folds, strict=True):
        # every hour of the day is the target of 24 issue times per rack
        assert int(fold.test.sum()) == hours_of(day, True) > 0.9 * 2 * 24 * 24
    assert int(final.calibration.sum()) == hours_of(LAST_DAY, False) > 0.9 * 2 * 24 * 24


def test_cli_status_and_too_few_days(pool, site):
    out = io.StringIO()
    with pool.connection() as conn:
        command.run(conn, argparse.Namespace(action="status"), out)
        assert f"site {site} max_cell_voltage_day_ahead" in out.getvalue()
        with pytest.raises(ForecastError, match="--days"):
            train = argparse.Namespace(action="train", site=site, until=None, days=2)
            command.run(conn, train, out)
        with pytest.raises(ForecastError, match="--until"):
            train = argparse.Namespace(action="train", site=site, until="2023-13-01", days=5)
            command.run(conn, train, out)


def test_split_conformal_halfwidth():
    residuals = np.array([0.1, -0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, np.nan])
    # n = 9, ceil(10 * 0.9) = 9: the largest absolute residual
    assert models.conformal_halfwidth(residuals) == pytest.approx(0.9)
    assert models.conformal_halfwidth(residuals, coverage=0.5) == pytest.approx(0.5)
    assert models.conformal_halfwidth(np.array([np.nan])) is None
