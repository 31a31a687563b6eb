"""SoS: the factor at the check values of docs/domain.md and f(h_w) = 0.8, the product and the
class boundaries, the worst case per bucket from raw rows and from the minute aggregate alike
(discharge current counts by its magnitude), and the endpoint with its bad inputs."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from tests.helpers import SEOUL, assert_problem, create_scratch_site, day_answer, store
from tests.safety_data import rack_rows

T0 = datetime(2022, 7, 4, 10, 0, tzinfo=SEOUL)
HAZARDS = (
    "over_voltage",
    "under_voltage",
    "voltage_unbalance",
    "over_current",
    "over_temperature",
    "under_temperature",
    "temperature_unbalance",
)
# docs/domain.md, SoS: (h_s, h_w, increasing) of the published parameters
PUBLISHED = {
    "over_voltage": (4.014, 4.05, True),
    "under_voltage": (3.34, 3.20, False),
    "voltage_unbalance": (0.158, 0.30, True),
    "over_current": (85.75, 100, True),
    "over_temperature": (47.3, 50, True),
    "under_temperature": (5.3, 0, False),
    "temperature_unbalance": (17.35, 20, True),
}


def factor(hazard: str, h: float) -> float:
    """The published formula, independently of the SQL."""
    h_s, h_w, increasing = PUBLISHED[hazard]
    if (increasing and h <= h_s) or (not increasing and h >= h_s):
        return 1.0
    a = (1 / 0.8 - 1) / (h_w - h_s) ** 2
    return 1 / (1 + a * (h - h_s) ** 2)


def sql_factor(conn, site: int, hazard: str, h: float) -> float:
    return conn.execute(
        "SELECT ess.sos_factor(%s, h_s, h_w, zeta, increasing) "
        "FROM ess.site_sos_parameters(%s) WHERE hazard = %s",
        (h, site, hazard),
    ).fetchone()[0]


@pytest.mark.parametrize(
    ("hazard", "h", "expected"),
    [
        ("over_voltage", 4.10, 0.412),
        ("under_voltage", 3.00, 0.404),
        ("voltage_unbalance", 0.5, 0.408),
        ("over_current", 120, 0.409),
        ("over_temperature", 55, 0.330),
    ],
)
def test_check_values_of_the_published_parameters(conn, hazard, h, expected):
    for site in (1, 2, 3):
        assert round(sql_factor(conn, site, hazard, h), 3) == expected


def test_factor_is_zeta_at_the_warning_value_and_one_on_the_safe_side(conn, scratch_site):
    new = scratch_site()  # no rows of its own: the defaults apply
    rows = conn.execute("SELECT * FROM ess.site_sos_parameters(%s)", (new,)).fetchall()
    assert [r[0] for r in rows] == list(HAZARDS)
    for hazard, _, _, increasing, h_s, h_w, zeta, _ in rows:
        assert (h_s, h_w, increasing) == PUBLISHED[hazard] and zeta == 0.8
        assert sql_factor(conn, new, hazard, h_w) == 0.8
        assert sql_factor(conn, new, hazard, h_s) == 1.0
        safe_side = h_s - 1 if increasing else h_s + 1
        assert sql_factor(conn, new, hazard, safe_side) == 1.0
        beyond = h_w + (h_w - h_s)
        assert sql_factor(conn, new, hazard, beyond) == pytest.approx(factor(hazard, beyond))


def test_a_site_row_overrides_the_default(conn, scratch_site):
    site = scratch_site()
    conn.execute(
        "INSERT INTO ess.sos_parameter (site_id, hazard, h_s, h_w, zeta) "
        "VALUES (%s, 'over_temperature', 40, 45, 0.9)",
        (site,),
    )
    assert sql_factor(conn, site, "over_temperature", 45) == pytest.approx(0.9)
    assert sql_factor(conn, site, "over_voltage", 4.05) == 0.8


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (1.0, "safe"),
        (0.8, "safe"),
        (0.7999999, "warning"),
        (0.8**4, "warning"),
        (0.4096, "warning"),
        (0.4095999, "unsafe"),
        (0.0, "unsafe"),
    ],
)
def test_class_boundaries(conn, score, expected):
    assert conn.execute("SELECT ess.sos_class(%s)", (score,)).fetchone()[0] == expected


def spike(at_second: int, high: float, low: float):
    return lambda s: high if s == at_second else low


@pytest.fixture(scope="module")
def site_rows(pool) -> int:
    """Rack 1, first minute: one second each at 4.10 V max cell, 3.00 V min cell, -120 A
    (discharge), 55 C, a 0.5 V gap; the second minute quiet. Rack 2 quiet. Bank 2 rack 1: four
    hazards exactly at their warning value (SoS 0.8^4), bank 2 rack 2: three of them."""
    with pool.connection() as conn:
        site = create_scratch_site(conn, rack_counts=(2, 2))
        rows = rack_rows(
            site,
            1,
            1,
            T0,
            120,
            rack_max_cell_voltage=spike(5, 4.10, 3.70),
            rack_min_cell_voltage=spike(20, 3.00, 3.67),
            rack_current=spike(35, -120.0, -20.0),
            rack_max_cell_temperature=spike(40, 55.0, 30.0),
            rack_cell_voltage_gap=spike(50, 0.5, 0.03),
        )
        rows += rack_rows(site, 1, 2, T0, 120)
        at_warning = {
            "rack_max_cell_voltage": 4.05,
            "rack_min_cell_voltage": 3.20,
            "rack_cell_voltage_gap": 0.30,
            "rack_current": 100.0,
        }
        rows += rack_rows(site, 2, 1, T0, 120, **at_warning)
        del at_warning["rack_current"]
        rows += rack_rows(site, 2, 2, T0, 120, **at_warning)
        store(conn, "rack", rows)
    return site


def rack_sos(conn, site, bank, rack, width, end=T0 + timedelta(minutes=2)) -> list[tuple]:
    return conn.execute(
        "SELECT * FROM ess.rack_sos(%s, %s, %s, %s, %s, %s)",
        (site, bank, rack, T0, end, width),
    ).fetchall()


def test_worst_case_per_bucket(conn, site_rows):
    first, second = rack_sos(conn, site_rows, 1, 1, timedelta(minutes=1))
    expected = [
        factor("over_voltage", 4.10),
        factor("under_voltage", 3.00),
        factor("voltage_unbalance", 0.5),
        factor("over_current", 120),  # discharge: the magnitude counts
        factor("over_temperature", 55),
        1.0,
        1.0,
    ]
    assert first[0] == T0 and first[1:3] == (1, 1)
    assert first[3:10] == pytest.approx(expected, rel=1e-12)
    score = 1.0
    for value in expected:
        score *= value
    assert first[10] == pytest.approx(score, rel=1e-12) and first[11] == "unsafe"
    assert second[0] == T0 + timedelta(minutes=1)
    assert second[3:] == (1.0,) * 8 + ("safe",)


def test_raw_rows_and_the_minute_aggregate_agree(conn, site_rows):
    """30 s buckets read the raw rows, 1 min buckets the aggregate: the minute's factors are
    the worst of its two halves."""
    halves = rack_sos(conn, site_rows, None, None, timedelta(seconds=30))
    minutes = rack_sos(conn, site_rows, None, None, timedelta(minutes=1))
    assert len(halves) == 2 * len(minutes) == 16
    for minute in minutes:
        parts = [
            h
            for h in halves
            if h[1:3] == minute[1:3]
            and h[0] - minute[0] < timedelta(minutes=1)
            and h[0] >= minute[0]
        ]
        assert len(parts) == 2
        for column in range(3, 10):  # the factors; the score is their product
            assert minute[column] == pytest.approx(min(p[column] for p in parts), rel=1e-12)
    used = conn.execute(
        "SELECT ess.aggregate_serves('rack_1h', '1 minute', %s, %s, 'Asia/Seoul'), "
        "ess.aggregate_serves('rack_1m', '1 minute', %s, %s, 'Asia/Seoul'), "
        "ess.aggregate_serves('rack_1m', '30 seconds', %s, %s, 'Asia/Seoul')",
        (T0, T0 + timedelta(minutes=2)) * 3,
    ).fetchone()
    assert used == (False, True, False)


def test_anomalies_lower_sos_and_classes_follow_the_product(conn, site_rows):
    by_rack = {
        (row[1], row[2]): row for row in rack_sos(conn, site_rows, None, None, timedelta(hours=1))
    }
    assert by_rack[(1, 2)][10:] == (1.0, "safe")
    assert by_rack[(1, 1)][10] < 0.01
    assert by_rack[(2, 1)][10] == pytest.approx(0.8**4) and by_rack[(2, 1)][11] == "warning"
    assert by_rack[(2, 2)][10] == pytest.approx(0.8**3) and by_rack[(2, 2)][11] == "warning"


def test_sos_endpoint(site_rows, client):
    url = f"/api/ess/stats/sos/operating-sites/{site_rows}/banks/1/racks/1/"
    answer = client.get(
        url, params={"start-time": "2022-07-04T10:00:00", "end-time": "2022-07-04T10:02:00"}
    )
    assert answer.status_code == 200, answer.text
    first, second = answer.json()
    assert list(first) == [
        "time",
        "operating_site",
        "bank_id",
        "rack_id",
        *HAZARDS,
        "sos_score",
        "class",
    ]
    assert (
        first["time"] == "2022-07-04T10:00:00+09:00"
        and second["time"] == "2022-07-04T10:01:00+09:00"
    )
    assert (first["operating_site"], first["bank_id"], first["rack_id"]) == (site_rows, 1, 1)
    assert round(first["over_voltage"], 3) == 0.412 and first["class"] == "unsafe"
    assert second["sos_score"] == 1.0 and second["class"] == "safe"

    racks = client.get(
        f"/api/ess/stats/sos/operating-sites/{site_rows}/banks/2/racks/",
        params={
            "start-time": "2022-07-04T01:00:00Z",
            "end-time": "2022-07-04T01:02:00Z",
            "time-bucket-width": "PT2M",
        },
    ).json()
    assert [(r["rack_id"], r["class"]) for r in racks] == [(1, "warning"), (2, "warning")]


def test_date_is_the_local_day(site_rows, client):
    url = f"/api/ess/stats/sos/operating-sites/{site_rows}/banks/1/racks/"
    rows = day_answer(client, url, "2022-07-04", **{"time-bucket-width": "30s"})
    assert len(rows) == 8  # racks 1 and 2, four half minutes each
    assert client.get(url, params={"date": "2022-07-03"}).json() == []


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("1/racks/1/", {"date": "2022-07-04", "start-time": "2022-07-04"}, 400, "date"),
        ("1/racks/1/", {"date": "2022-07-04", "end-time": "2022-07-05"}, 400, "date"),
        ("1/racks/1/", {"date": "04.07.2022"}, 400, "date"),
        ("1/racks/1/", {"end-time": "2022-07-04T11:00:00"}, 400, "start-time"),
        (
            "1/racks/1/",
            {"start-time": "2022-07-04T11:00:00", "end-time": "2022-07-04T10:00:00"},
            400,
            "end-time",
        ),
        (
            "1/racks/1/",
            {"start-time": "2022-07-04", "end-time": "2022-07-05", "time-bucket-width": "often"},
            400,
            "time-bucket-width",
        ),
        (
            "1/racks/1/",
            {"start-time": "2022-07-04", "end-time": "2022-07-06", "time-bucket-width": "30s"},
            400,
            "end-time",
        ),
        (
            "1/racks/1/",
            {"start-time": "2022-07-04T10:00:30", "end-time": "2022-07-06"},
            400,
            "end-time",
        ),
        ("1/racks/1/", {"start-time": "2022-01-01", "end-time": "2022-07-04"}, 400, "end-time"),
        (
            "1/racks/",
            {"start-time": "2022-05-01", "end-time": "2022-07-31"},
            400,
            "time-bucket-width",
        ),
        ("3/racks/", {"start-time": "2022-07-04", "end-time": "2022-07-05"}, 404, "bank"),
        ("1/racks/7/", {"start-time": "2022-07-04", "end-time": "2022-07-05"}, 404, "rack"),
    ],
)
def test_bad_inputs_are_problems(site_rows, client, path, params, status, parameter):
    answer = client.get(
        f"/api/ess/stats/sos/operating-sites/{site_rows}/banks/{path}", params=params
    )
    assert_problem(answer, status, parameter)


# -- the parameter tables stay consistent: a release value equal to a warning level divided by
# zero in the ExSoS severity, one beyond it turned the scale round (severity 0 at the fault)


def refusal(conn, statement: str, params: tuple) -> str:
    with pytest.raises(psycopg.Error) as raised:
        conn.execute(statement, params)
    return str(raised.value)


SET = "SELECT ess.set_sos_parameter(%s, %s, %s, %s)"


@pytest.mark.parametrize(
    ("hazard", "h_s", "h_w", "named"),
    [
        # equal to the protection map's warning level (50 C): the ExSoS scale divided by zero
        ("over_temperature", 50, 55, "must be below the warning level 50 of protection code 6"),
        # beyond it: severity 0 even at the fault level
        ("over_temperature", 52, 56, "must be below the warning level 50 of protection code 6"),
        # on the unsafe side of the SoS warning value
        ("over_temperature", 45, 44, "must be below the SoS warning value h_w = 44"),
        ("under_voltage", 3.1, 3.2, "must be above the SoS warning value h_w = 3.2"),
        # over-current has no warning level: its fault level (120 A) bounds the release value
        ("over_current", 120, 130, "must be below the fault level 120 of protection code 4"),
    ],
)
def test_a_release_value_on_or_beyond_a_warning_level_is_refused(
    conn, scratch_site, hazard, h_s, h_w, named
):
    site = scratch_site()
    message = refusal(conn, SET, (site, hazard, h_s, h_w))
    assert f"site {site}: the {hazard} release value h_s = {h_s} {named}" in message
    # the plain INSERT is refused the same way, and nothing was stored
    insert = "INSERT INTO ess.sos_parameter (site_id, hazard, h_s, h_w) VALUES (%s, %s, %s, %s)"
    assert named in refusal(conn, insert, (site, hazard, h_s, h_w))
    stored = conn.execute("SELECT count(*) FROM ess.sos_parameter WHERE site_id = %s", (site,))
    assert stored.fetchone()[0] == 0


def test_protection_levels_below_the_release_value_are_refused(conn, scratch_site):
    site = scratch_site()
    threshold = (
        "INSERT INTO ess.protection_threshold "
        "(site_id, code, quantity, direction, warning_level, fault_level, unit) "
        "VALUES (%s, 6, 'rack_max_cell_temperature', %s, %s, %s, '°C')"
    )
    message = refusal(conn, threshold, (site, "above", 45, 50))
    assert "the over_temperature release value h_s = 47.3 must be below the warning level 45" in (
        message
    )
    assert "is 'below' its levels" in refusal(conn, threshold, (site, "below", 60, 40))
    # with the site's own release value first, the lower levels are accepted
    conn.execute(SET, (site, "over_temperature", 40, 45))
    conn.execute(threshold, (site, "above", 45, 50))
    # and the release value can no longer go back to the default under them
    message = refusal(
        conn,
        "DELETE FROM ess.sos_parameter WHERE site_id = %s AND hazard = %s",
        (site, "over_temperature"),
    )
    assert "h_s = 47.3 must be below the warning level 45 of protection code 6" in message


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("overheat", 40, 45), "unknown SoS hazard 'overheat'"),
        (("over_temperature", 45, 45), "must be two different numbers"),
        (("over_temperature", None, 45), "must be two different numbers"),
    ],
)
def test_set_sos_parameter_names_what_is_wrong(conn, scratch_site, arguments, named):
    assert named in refusal(conn, SET, (scratch_site(), *arguments))


def test_set_sos_parameter_refuses_a_bad_zeta_and_an_unknown_site(conn, scratch_site):
    site = scratch_site()
    with_zeta = "SELECT ess.set_sos_parameter(%s, 'over_temperature', 40, 45, %s)"
    assert "must lie between 0 and 1, not 1" in refusal(conn, with_zeta, (site, 1.0))
    assert "no operating site 32000" in refusal(conn, SET, (32000, "over_temperature", 40, 45))


def test_set_sos_parameter_replaces_the_row_of_the_site(conn, scratch_site):
    site = scratch_site()
    conn.execute(SET, (site, "over_temperature", 40, 45))
    conn.execute(SET, (site, "over_temperature", 42, 46))
    rows = conn.execute(
        "SELECT h_s, h_w, zeta FROM ess.sos_parameter WHERE site_id = %s", (site,)
    ).fetchall()
    assert rows == [(42, 46, 0.8)]
    assert sql_factor(conn, site, "over_temperature", 46) == pytest.approx(0.8)


def test_the_severity_scale_runs_from_the_release_value_to_the_fault_level(conn):
    """At every reference site the ExSoS severity of each hazard is 0 at its release value,
    0.5 at the warning level and 1 at the fault level (the tables allow no other order)."""
    for site in (1, 2, 3):
        scale = conn.execute(
            "SELECT p.hazard, p.h_s, t.warning_level, t.fault_level, "
            "ess.hazard_severity(p.h_s, p.h_s, t.warning_level, t.fault_level), "
            "ess.hazard_severity(t.warning_level, p.h_s, t.warning_level, t.fault_level), "
            "ess.hazard_severity(t.fault_level, p.h_s, t.warning_level, t.fault_level) "
            "FROM ess.site_sos_parameters(%s) AS p "
            "JOIN ess.site_protection_thresholds(%s) AS t ON t.sos_hazard = p.hazard",
            (site, site),
        ).fetchall()
        assert len(scale) == 8  # over-current is watched by the charge and discharge codes
        for hazard, _, warning, _, at_release, at_warning, at_fault in scale:
            assert at_release == 0 and at_fault == 1, hazard
            assert at_warning == (0.5 if warning is not None else None), hazard
