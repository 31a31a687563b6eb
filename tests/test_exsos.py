"""ExSoS: the severity scale from the protection map, the membership degrees of chosen inputs,
the exact centroid against numerical integration, the state-dependent input pair on hand-made
racks (an anomaly lowers the score), bank level from the worst rack, and the endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.helpers import SEOUL, assert_problem, create_scratch_site, day_answer, store
from tests.safety_data import rack_rows

T0 = datetime(2022, 8, 1, 13, 0, tzinfo=SEOUL)
CLASSES = ("catastrophic", "critical", "neutral", "marginal", "negligible")


@pytest.mark.parametrize(
    ("h", "h_s", "warning", "fault", "expected"),
    [
        (4.014, 4.014, 4.05, 4.10, 0.0),
        (3.900, 4.014, 4.05, 4.10, 0.0),
        (4.032, 4.014, 4.05, 4.10, 0.25),
        (4.050, 4.014, 4.05, 4.10, 0.5),
        (4.075, 4.014, 4.05, 4.10, 0.75),
        (4.100, 4.014, 4.05, 4.10, 1.0),
        (4.300, 4.014, 4.05, 4.10, 1.0),
        # a decreasing hazard: under-voltage
        (3.500, 3.34, 3.20, 3.00, 0.0),
        (3.200, 3.34, 3.20, 3.00, 0.5),
        (3.100, 3.34, 3.20, 3.00, 0.75),
        (2.900, 3.34, 3.20, 3.00, 1.0),
    ],
)
def test_severity_is_piecewise_linear_through_release_warning_fault(
    conn, h, h_s, warning, fault, expected
):
    found = conn.execute(
        "SELECT ess.hazard_severity(%s, %s, %s, %s)", (h, h_s, warning, fault)
    ).fetchone()[0]
    assert found == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("a", "b", "degrees"),
    [
        (0.0, 0.0, (0, 0, 0, 0, 1)),
        (0.25, 0.0, (0, 0, 0, 0.5, 0.5)),
        (0.5, 0.0, (0, 0, 0, 1, 0)),
        (0.5, 0.5, (0, 0, 1, 0, 0)),
        (0.75, 0.25, (0, 0.5, 0.5, 0.5, 0)),
        (1.0, 0.0, (0, 1, 0, 0, 0)),
        (0.0, 1.0, (0, 1, 0, 0, 0)),
        (1.0, 0.5, (0, 1, 0, 0, 0)),
        (0.75, 0.75, (0.5, 0.5, 0.5, 0, 0)),
        (1.0, 1.0, (1, 0, 0, 0, 0)),
    ],
)
def test_membership_degrees_of_chosen_inputs(conn, a, b, degrees):
    row = conn.execute("SELECT * FROM ess.exsos_infer(%s, %s)", (a, b)).fetchone()
    assert row[:5] == pytest.approx(degrees, abs=1e-12)
    assert row[5] == pytest.approx(numeric_centroid(degrees), abs=1e-5)


def numeric_centroid(weights, steps: int = 200_000) -> float:
    """Centroid of max_k min(w_k, triangle_k(y)) over [0, 1] by the midpoint rule."""
    numerator = denominator = 0.0
    for i in range(steps):
        y = (i + 0.5) / steps
        mu = max(min(w, max(0.0, 1 - abs(y - k / 4) / 0.25)) for k, w in enumerate(weights))
        numerator += y * mu
        denominator += mu
    return numerator / denominator


@pytest.mark.parametrize(
    "weights",
    [
        (0, 0, 0, 0, 1),
        (1, 0, 0, 0, 0),
        (0, 0.5, 0.5, 0.5, 0),
        (0, 0, 0, 0.5, 0.5),
        (0.2, 0.7, 0.1, 0.4, 0.9),
        (0.05, 0, 0.3, 1, 0.6),
    ],
)
def test_centroid_is_exact(conn, weights):
    found = conn.execute(
        "SELECT ess.fuzzy_centroid(%s::double precision[])", ([float(w) for w in weights],)
    ).fetchone()[0]
    assert found == pytest.approx(numeric_centroid(weights), abs=1e-6)


def test_centroid_range_on_the_unit_interval(conn):
    low, high = conn.execute(
        "SELECT ess.fuzzy_centroid('{1,0,0,0,0}'), ess.fuzzy_centroid('{0,0,0,0,1}')"
    ).fetchone()
    assert (low, high) == pytest.approx((1 / 12, 11 / 12))


@pytest.fixture(scope="module")
def racks(pool) -> int:
    """Bank 1: rack 1 charging at +50 A with a 4.075 V max cell (severity 0.75); rack 2
    discharging at -40 A with a 3.10 V min cell (0.75); rack 3 at rest (+1 A, inside the 2 A
    dead band) with a 0.4 V cell gap (0.75); rack 4 quiet at rest. Bank 2: both racks charging,
    rack 2 at 4.10 V (fault level) and rack 1 at 52.5 C (half way from warning to fault)."""
    with pool.connection() as conn:
        site = create_scratch_site(conn, rack_counts=(4, 2))
        rows = rack_rows(site, 1, 1, T0, 60, rack_current=50.0, rack_max_cell_voltage=4.075)
        rows += rack_rows(site, 1, 2, T0, 60, rack_current=-40.0, rack_min_cell_voltage=3.10)
        rows += rack_rows(site, 1, 3, T0, 60, rack_current=1.0, rack_cell_voltage_gap=0.4)
        rows += rack_rows(site, 1, 4, T0, 60)
        rows += rack_rows(site, 2, 1, T0, 60, rack_current=60.0, rack_max_cell_temperature=52.5)
        rows += rack_rows(site, 2, 2, T0, 60, rack_current=40.0, rack_max_cell_voltage=4.10)
        store(conn, "rack", rows)
    return site


def exsos(conn, site, bank, rack, mode) -> list[dict]:
    cursor = conn.execute(
        "SELECT * FROM ess.exsos(%s, %s, %s, %s, %s, p_mode => %s)",
        (site, bank, rack, T0, T0 + timedelta(minutes=1), mode),
    )
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def test_input_pair_follows_the_operating_state(conn, racks):
    by_rack = {row["rack_id"]: row for row in exsos(conn, racks, 1, None, 2)}
    expected = {
        1: ("charge", "over_voltage", "rack_max_cell_voltage", 4.075, "over_temperature"),
        2: ("discharge", "under_voltage", "rack_min_cell_voltage", 3.10, "under_temperature"),
        3: ("rest", "voltage_unbalance", "rack_cell_voltage_gap", 0.4, "temperature_unbalance"),
    }
    for rack, (state, hazard, quantity, value, other) in expected.items():
        row = by_rack[rack]
        assert (row["operating_state"], row["hazard_a"], row["quantity_a"]) == (
            state,
            hazard,
            quantity,
        )
        assert row["value_a"] == value and row["hazard_b"] == other
        assert row["severity_a"] == pytest.approx(0.75) and row["severity_b"] == 0
        # high 0.5 & low -> Critical 0.5, medium 0.5 & low -> Marginal 0.5: centroid 0.5
        assert [row[c] for c in CLASSES] == pytest.approx([0, 0.5, 0, 0.5, 0])
        assert row["integrated_safety"] == pytest.approx(0.5)
    quiet = by_rack[4]
    assert quiet["operating_state"] == "rest" and quiet["negligible"] == 1
    assert quiet["integrated_safety"] == pytest.approx(11 / 12)
    assert quiet["exsos_class"] == "negligible"
    assert all(by_rack[r]["integrated_safety"] < quiet["integrated_safety"] for r in (1, 2, 3))


def test_bank_level_takes_the_worst_rack(conn, racks):
    (bank,) = exsos(conn, racks, 2, None, 1)
    assert (bank["mode"], bank["rack_id"], bank["operating_state"]) == (1, None, "charge")
    assert bank["mean_current"] == pytest.approx(50.0)
    assert (bank["value_a"], bank["value_b"]) == (4.10, 52.5)
    assert (bank["severity_a"], bank["severity_b"]) == pytest.approx((1.0, 0.75))
    # high & high (min 1, 0.5) -> Catastrophic 0.5; high & medium -> Critical 0.5
    assert [bank[c] for c in CLASSES] == pytest.approx([0.5, 0.5, 0, 0, 0])
    per_rack = exsos(conn, racks, 2, None, 2)
    assert bank["integrated_safety"] < min(r["integrated_safety"] for r in per_rack)


def test_exsos_endpoints(racks, client):
    base = f"/api/ess/stats/ex-sos/operating-sites/{racks}/banks/"
    window = {"start-time": "2022-08-01T13:00:00", "end-time": "2022-08-01T13:01:00"}
    (rack,) = client.get(base + "1/racks/1/", params=window).json()
    assert rack["time"] == "2022-08-01T13:00:00+09:00"
    assert (rack["mode"], rack["operating_site"], rack["bank_id"], rack["rack_id"]) == (
        2,
        racks,
        1,
        1,
    )
    assert rack["operating_state"] == "charge" and rack["class"] == "neutral"
    assert rack["integrated_safety"] == pytest.approx(0.5)
    assert rack["membership_degree"] == pytest.approx(
        {"Catastrophic": 0, "Critical": 0.5, "Neutral": 0, "Marginal": 0.5, "Negligible": 0}
    )
    assert rack["inputs"][0] == {
        "hazard": "over_voltage",
        "quantity": "rack_max_cell_voltage",
        "value": 4.075,
        "severity": pytest.approx(0.75),
    }
    assert len(client.get(base + "1/racks/", params=window).json()) == 4
    banks = client.get(base, params=window).json()
    assert [(b["bank_id"], b["rack_id"], b["mode"]) for b in banks] == [(1, None, 1), (2, None, 1)]
    (bank,) = client.get(base + "2/", params=window).json()
    assert bank == banks[1]


def test_date_is_the_local_day(racks, client):
    base = f"/api/ess/stats/ex-sos/operating-sites/{racks}/banks/"
    assert [b["bank_id"] for b in day_answer(client, base, "2022-08-01")] == [1, 2]
    rows = day_answer(client, base + "1/racks/", "2022-08-01")
    assert len(rows) == 4 and rows[0]["time"] == "2022-08-01T13:00:00+09:00"


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("", {"date": "2022-08-01", "start-time": "2022-08-01T13:00:00"}, 400, "date"),
        ("", {"start-time": "2022-08-01T13:00:00"}, 400, "end-time"),
        (
            "1/",
            {"start-time": "2022-08-01", "end-time": "2022-08-02", "time-bucket-width": "0s"},
            400,
            "time-bucket-width",
        ),
        ("9/", {"start-time": "2022-08-01", "end-time": "2022-08-02"}, 404, "bank"),
        ("1/racks/5/", {"start-time": "2022-08-01", "end-time": "2022-08-02"}, 404, "rack"),
    ],
)
def test_bad_inputs_are_problems(racks, client, path, params, status, parameter):
    answer = client.get(
        f"/api/ess/stats/ex-sos/operating-sites/{racks}/banks/{path}", params=params
    )
    assert_problem(answer, status, parameter)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        # half-way scores go to the safer class, both below and above an even peak index
        (0.125, "critical"),
        (0.375, "neutral"),
        (0.625, "marginal"),
        (0.875, "negligible"),
        (0.1249, "catastrophic"),
        (0.3749, "critical"),
    ],
)
def test_class_rounds_half_way_scores_up(conn, score, expected):
    (found,) = conn.execute("SELECT ess.exsos_class(%s)", (score,)).fetchone()
    assert found == expected


def test_detail_holds_the_state_and_the_seven_inputs(racks, client):
    base = f"/api/ess/stats/ex-sos/operating-sites/{racks}/banks/1/racks/"
    window = {"start-time": "2022-08-01T13:00:00", "end-time": "2022-08-01T13:01:00"}
    by_rack = {r["rack_id"]: r for r in client.get(base, params=window).json()}
    assert [by_rack[r]["membership_degree_detail"]["status"] for r in (1, 2, 3, 4)] == [0, 1, 2, 2]
    # the worst case of the bucket, whichever pair the state chose (keys: test_compatibility)
    charging = by_rack[1]["membership_degree_detail"]
    assert (charging["max_voltage"], charging["min_temperature"]) == (4.075, 24.0)
    assert by_rack[2]["membership_degree_detail"]["min_voltage"] == 3.10
    assert by_rack[3]["membership_degree_detail"]["voltage_gap"] == 0.4


def test_mode_chooses_the_level(racks, client):
    base = f"/api/ess/stats/ex-sos/operating-sites/{racks}/banks/"
    window = {"start-time": "2022-08-01T13:00:00", "end-time": "2022-08-01T13:01:00"}
    racks_of_bank = client.get(base + "1/", params={**window, "mode": "2"}).json()
    assert [(r["mode"], r["rack_id"]) for r in racks_of_bank] == [(2, 1), (2, 2), (2, 3), (2, 4)]
    assert racks_of_bank == client.get(base + "1/racks/", params=window).json()
    (bank,) = client.get(base + "1/racks/", params={**window, "mode": "1"}).json()
    assert (bank["mode"], bank["rack_id"]) == (1, None)
    assert bank == client.get(base + "1/", params=window).json()[0]
    every_rack = client.get(base, params={**window, "mode": "2"}).json()
    assert [(r["bank_id"], r["rack_id"]) for r in every_rack] == [
        (1, 1),
        (1, 2),
        (1, 3),
        (1, 4),
        (2, 1),
        (2, 2),
    ]


@pytest.mark.parametrize(("path", "mode"), [("1/racks/1/", "1"), ("1/", "3"), ("", "bank")])
def test_bad_mode_is_a_problem(racks, client, path, mode):
    window = {"start-time": "2022-08-01T13:00:00", "end-time": "2022-08-01T13:01:00"}
    answer = client.get(
        f"/api/ess/stats/ex-sos/operating-sites/{racks}/banks/{path}",
        params={**window, "mode": mode},
    )
    assert answer.status_code == 400
    assert answer.json()["parameter"] == "mode"
