"""The earlier service's response contract (docs/compatibility.md) for the SoS, ExSoS, SoCP and
SoL URLs: the keys its clients read, their types, and their meaning, checked on a small
hand-made site against values computed here independently of the SQL (the published SoS
formula, the fuzzy rules integrated numerically, counts of the generated rows, the SoL
arithmetic), with the earlier parameter names (mode, charge_status, period with start-time,
end-date excluded)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import pytest

from tests.helpers import SEOUL, create_scratch_site, store
from tests.safety_data import rack_rows

T0 = datetime(2022, 10, 3, 10, 0, tzinfo=SEOUL)
MINUTE = {"start-time": "2022-10-03T10:00:00", "end-time": "2022-10-03T10:01:00+09:00"}
SECONDS = 120
SOL_DAY0 = date(2022, 9, 20)
SOL_DAYS = 13  # 2022-09-20 .. 2022-10-02
STATS = "/api/ess/stats"


def max_position(second: int) -> float:
    return 7.0 if second < 90 else 12.0


def max_temperature(second: int) -> float:
    return 31.0 if second < 90 else 33.0


def bank_soh(day: int) -> float:
    return 99.0 - 0.1 * day


@pytest.fixture(scope="module")
def site(pool) -> int:
    """Bank 1: rack 1 charging at +50 A with a 4.075 V highest cell (cell 7, then cell 12 for
    the last 30 s), rack 2 discharging at -40 A with a 3.10 V lowest cell; bank 2: one quiet
    rack at rest. Bank 1's SoH falls 0.1 % a day over 13 days (two rows a day)."""
    with pool.connection() as conn:
        created = create_scratch_site(conn, rack_counts=(2, 1))
        racks = rack_rows(
            created,
            1,
            1,
            T0,
            SECONDS,
            rack_current=50.0,
            rack_soc=35.0,
            rack_max_cell_voltage=4.075,
            rack_max_cell_voltage_position=max_position,
            rack_max_cell_temperature=max_temperature,
        )
        racks += rack_rows(
            created,
            1,
            2,
            T0,
            SECONDS,
            rack_current=-40.0,
            rack_soc=62.5,
            rack_min_cell_voltage=3.10,
        )
        racks += rack_rows(created, 2, 1, T0, SECONDS)
        store(conn, "rack", racks)
        banks = [
            {
                "ts": datetime.combine(SOL_DAY0 + timedelta(days=day), datetime.min.time(), SEOUL)
                + timedelta(hours=hour),
                "site_id": created,
                "bank_id": 1,
                "bank_soh": bank_soh(day),
            }
            for day in range(SOL_DAYS)
            for hour in (6, 18)
        ]
        store(conn, "bank", banks)
    return created


def get(client, path: str, **params: str) -> list[dict]:
    answer = client.get(f"{STATS}/{path}", params=params)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body, list), "the earlier service answered bare lists"
    return body


def local_time(text: str) -> datetime:
    """Timestamps carry the site's offset; the instant is what the earlier naive time meant."""
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == timedelta(hours=9), text
    return parsed


# -- independent computations


def sos_factor(h: float, h_s: float, h_w: float, increasing: bool) -> float:
    """The published SoS factor with zeta 0.8 (docs/domain.md)."""
    if (h <= h_s) if increasing else (h >= h_s):
        return 1.0
    a = (1 / 0.8 - 1) / (h_w - h_s) ** 2
    return 1 / (1 + a * (h - h_s) ** 2)


def severity(h: float, h_s: float, warning: float, fault: float) -> float:
    """0 at the release value, 0.5 at the warning level, 1 at the fault level, linear between."""
    ratio = (h - h_s) / (warning - h_s)
    if ratio <= 1:
        return max(0.0, 0.5 * ratio)
    return min(1.0, 0.5 + 0.5 * (h - warning) / (fault - warning))


def fuzzy(a: float, b: float) -> tuple[dict[str, float], float]:
    """The rule strengths and the centroid of the clipped output triangles, by integration."""
    low = {s: max(0.0, 1 - 2 * s) for s in (a, b)}
    medium = {s: max(0.0, 1 - abs(2 * s - 1)) for s in (a, b)}
    high = {s: max(0.0, 2 * s - 1) for s in (a, b)}
    strengths = {
        "Catastrophic": min(high[a], high[b]),
        "Critical": max(
            min(high[a], low[b]),
            min(low[a], high[b]),
            min(high[a], medium[b]),
            min(medium[a], high[b]),
        ),
        "Neutral": min(medium[a], medium[b]),
        "Marginal": max(min(low[a], medium[b]), min(medium[a], low[b])),
        "Negligible": min(low[a], low[b]),
    }
    peaks = dict(zip(strengths, (0.0, 0.25, 0.5, 0.75, 1.0), strict=True))
    steps = 20_000
    area = moment = 0.0
    for i in range(steps + 1):
        y = i / steps
        mu = max(min(w, max(0.0, 1 - abs(y - peaks[k]) / 0.25)) for k, w in strengths.items())
        weight = 0.5 if i in (0, steps) else 1.0
        area += weight * mu
        moment += weight * mu * y
    return strengths, moment / area


def nearest_class(score: float) -> str:
    """The class whose peak is nearest, a half-way score going to the safer one."""
    names = ("catastrophic", "critical", "neutral", "marginal", "negligible")
    return names[math.floor(score * 4 + 0.5)]


# -- SoS


SOS_KEYS = {
    "time": str,
    "operating_site": int,
    "bank_id": int,
    "rack_id": int,
    "over_voltage": float,
    "under_voltage": float,
    "voltage_unbalance": float,
    "over_current": float,
    "over_temperature": float,
    "under_temperature": float,
    "temperature_unbalance": float,
    "sos_score": float,
}


def assert_keys(item: dict, keys: dict[str, type | tuple]) -> None:
    for key, kind in keys.items():
        assert key in item, key
        assert isinstance(item[key], kind), (key, item[key])


def test_sos_keys_and_the_published_formula(site, client):
    (rack,) = get(client, f"sos/operating-sites/{site}/banks/1/racks/1/", **MINUTE)
    assert_keys(rack, SOS_KEYS)
    assert local_time(rack["time"]) == T0
    assert (rack["operating_site"], rack["bank_id"], rack["rack_id"]) == (site, 1, 1)
    expected = sos_factor(4.075, 4.014, 4.05, True)
    assert rack["over_voltage"] == pytest.approx(expected)
    # every other input is on the safe side of its release value
    safe = set(SOS_KEYS) - {"time", "operating_site", "bank_id", "rack_id", "over_voltage"}
    assert {k: rack[k] for k in safe - {"sos_score"}} == dict.fromkeys(safe - {"sos_score"}, 1)
    assert rack["sos_score"] == pytest.approx(expected)
    every = get(client, f"sos/operating-sites/{site}/banks/1/racks/", **MINUTE)
    assert [(r["bank_id"], r["rack_id"]) for r in every] == [(1, 1), (1, 2)]
    assert every[1]["under_voltage"] == pytest.approx(sos_factor(3.10, 3.34, 3.20, False))


# -- ExSoS


EXSOS_KEYS = {
    "time": str,
    "mode": int,
    "operating_site": int,
    "bank_id": int,
    "integrated_safety": float,
    "membership_degree": dict,
    "membership_degree_detail": dict,
}
DETAIL_KEYS = (
    "status",
    "max_voltage",
    "max_temperature",
    "min_voltage",
    "min_temperature",
    "voltage_gap",
    "temperature_gap",
)


def test_exsos_keys_membership_and_detail(site, client):
    racks = get(client, f"ex-sos/operating-sites/{site}/banks/1/racks/", **MINUTE)
    assert [(r["mode"], r["rack_id"]) for r in racks] == [(2, 1), (2, 2)]
    for rack, (status, a) in zip(
        racks,
        # charging: over-voltage 4.075 V; discharging: under-voltage 3.10 V (cells at 30/24 C)
        ((0, severity(4.075, 4.014, 4.05, 4.10)), (1, severity(3.10, 3.34, 3.20, 3.00))),
        strict=True,
    ):
        assert_keys(rack, EXSOS_KEYS)
        assert local_time(rack["time"]) == T0 and rack["operating_site"] == site
        strengths, score = fuzzy(a, 0.0)
        assert rack["membership_degree"] == pytest.approx(strengths)
        assert 0 <= rack["integrated_safety"] <= 1
        assert rack["integrated_safety"] == pytest.approx(score, abs=1e-4)
        assert rack["class"] == nearest_class(score)
        detail = rack["membership_degree_detail"]
        assert tuple(detail) == DETAIL_KEYS and detail["status"] == status
    first, second = (r["membership_degree_detail"] for r in racks)
    # the first minute: cell temperatures at 31 C (33 C only from second 90)
    assert (first["max_voltage"], first["max_temperature"], first["min_voltage"]) == (
        4.075,
        31.0,
        3.67,
    )
    assert (second["min_voltage"], second["voltage_gap"], second["temperature_gap"]) == (
        3.10,
        0.03,
        6.0,
    )


def test_exsos_mode_filter(site, client):
    path = f"ex-sos/operating-sites/{site}/banks/"
    banks = get(client, path, **MINUTE)
    assert [(b["mode"], b["bank_id"], b["rack_id"]) for b in banks] == [(1, 1, None), (1, 2, None)]
    assert get(client, path, mode="1", **MINUTE) == banks
    racks = get(client, path, mode="2", **MINUTE)
    assert [(r["mode"], r["bank_id"], r["rack_id"]) for r in racks] == [
        (2, 1, 1),
        (2, 1, 2),
        (2, 2, 1),
    ]
    # bank level: the worst rack's inputs; a quiet bank is negligible
    assert banks[0]["integrated_safety"] == min(r["integrated_safety"] for r in racks[:2])
    assert banks[1]["membership_degree"]["Negligible"] == 1
    assert get(client, path + "1/racks/", mode="1", **MINUTE) == banks[:1]


# -- SoCP


def test_socp_keys_and_counts_of_the_generated_rows(site, client):
    path = f"socp/operating-sites/{site}/banks/1/racks/1/"
    (item,) = get(client, path, period="1", charge_status="0", **{"end-time": "2022-10-04"})
    assert_keys(
        item,
        {
            "time": str,
            "operating_site": int,
            "bank_id": int,
            "rack_id": int,
            "period": int,
            "charge_status": int,
            "soc_range": int,
            "value": dict,
        },
    )
    # the day the counts are for: the start of the period's last day
    assert local_time(item["time"]) == datetime(2022, 10, 3, tzinfo=SEOUL)
    assert (item["period"], item["charge_status"], item["soc_range"]) == (1, 0, 30)
    seconds = range(SECONDS)
    expected = {}
    for cell in sorted({max_position(s) for s in seconds}):
        moments = [s for s in seconds if max_position(s) == cell]
        expected[str(int(cell))] = {
            "count": len(moments),
            "voltage": pytest.approx(4.075),
            "temp": pytest.approx(sum(max_temperature(s) for s in moments) / len(moments)),
            "current": pytest.approx(50.0),
        }
    assert item["value"] == expected
    # the same day as the earlier service's window over `time`, and the weekly period of it
    window = {"start-time": "2022-10-03T00:00:00", "end-time": "2022-10-04T00:00:00"}
    assert get(client, path, charge_status="0", **window) == [item]
    (weekly,) = get(client, path, charge_status="0", period="7", **window)
    assert (weekly["time"], weekly["period"], weekly["value"]) == (item["time"], 7, item["value"])


def test_socp_charge_status_filter(site, client):
    path = f"socp/operating-sites/{site}/banks/1/racks/"
    day = {"end-time": "2022-10-04"}
    every = get(client, path, **day)
    assert {(i["rack_id"], i["charge_status"], i["soc_range"]) for i in every} == {
        (1, 0, 30),
        (2, 1, 60),
    }
    assert get(client, path, charge_status="1", **day) == [i for i in every if i["rack_id"] == 2]
    assert get(client, path, charge_status="2", **day) == []


# -- SoL


def test_sol_bare_list_with_end_date_excluded(site, client):
    path = f"forecasting-sol/operating-sites/{site}/banks/"
    items = get(client, path, **{"start-date": "2022-09-20", "end-date": "2022-09-25"})
    assert [i["date"] for i in items] == [f"2022-09-{d}" for d in range(20, 25)]
    for index, item in enumerate(items):
        assert_keys(
            item,
            {
                "operating_site": int,
                "bank_id": int,
                "date": str,
                "value": float,
                "top_limit_value": type(None),
                "bottom_limit_value": type(None),
            },
        )
        assert (item["operating_site"], item["bank_id"]) == (site, 1)
        assert item["value"] == pytest.approx((bank_soh(index) - 80) * 5)
    ahead = get(client, path + "1/", **{"start-date": "2022-10-02", "end-date": "2022-10-05"})
    assert [i["date"] for i in ahead] == ["2022-10-02", "2022-10-03", "2022-10-04"]
    for offset, item in enumerate(ahead[1:], start=1):
        # an exact line forecasts its own continuation, inside its band
        assert item["value"] == pytest.approx((bank_soh(SOL_DAYS - 1 + offset) - 80) * 5)
        assert item["bottom_limit_value"] <= item["value"] <= item["top_limit_value"]
