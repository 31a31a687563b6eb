"""Protection-map episodes: threshold rules and BMS flags on hand-made rack rows give episodes
with the right start, end, level, peak and source; discharge over-current is detected; counts
per bucket and level; the paged endpoint and its bad inputs."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from api.analytics.protection.store import refresh_protection_events
from api.db import connect
from api.demo import generate
from api.loader.convert import PG_EPOCH
from api.loader.load import FileReport, refresh_loaded
from tests.helpers import SEOUL, assert_problem, create_scratch_site, day_answer, store
from tests.safety_data import rack_rows

T0 = datetime(2022, 6, 1, 10, 0, tzinfo=SEOUL)
WINDOW = (T0, T0 + timedelta(minutes=5))


def temperature(second: int) -> float:
    """Rises 0.1 C per second from 48 C at second 60 to 59.9 C at second 179, else 30 C."""
    return round(48 + (second - 60) * 0.1, 1) if 60 <= second < 180 else 30.0


def over_temperature_flag(second: int) -> int:
    # two bursts 5 s apart (one episode with the 10 s gap rule), a third one 70 s later
    return int(10 <= second < 20 or 25 <= second < 30 or 100 <= second < 105)


@pytest.fixture(scope="module")
def anomalies(pool) -> int:
    """Bank 1 rack 1: over-temperature through warning (50 C) into fault (55 C), six seconds
    missing in the middle; rack 2: discharge at -130 A for 30 s; rack 3: the BMS's own
    over-temperature warning flag; bank 2 rack 1: a voltage imbalance still on at the window's
    end; bank 2 rack 2: charge at +125 A for 10 s."""
    with pool.connection() as conn:
        site = create_scratch_site(conn, rack_counts=(3, 2))
        store(conn, "rack", anomaly_rows(site))
    return site


def anomaly_rows(site: int) -> list[dict]:
    rows = rack_rows(
        site, 1, 1, T0, 300, skip=range(150, 156), rack_max_cell_temperature=temperature
    )
    rows += rack_rows(
        site, 1, 2, T0, 300, rack_current=lambda s: -130.0 if 200 <= s < 230 else -30.0
    )
    rows += rack_rows(site, 1, 3, T0, 300, rack_over_temperature_warning=over_temperature_flag)
    rows += rack_rows(
        site, 2, 1, T0, 300, rack_cell_voltage_gap=lambda s: 0.35 if s >= 290 else 0.03
    )
    rows += rack_rows(site, 2, 2, T0, 300, rack_current=lambda s: 125.0 if 40 <= s < 50 else 10.0)
    return rows


def episodes(conn: psycopg.Connection, site: int, **filters) -> list[dict]:
    cursor = conn.execute(
        "SELECT * FROM ess.protection_episodes(%s, %s, %s, p_level => %s, p_code => %s)",
        (site, *WINDOW, filters.get("level"), filters.get("code")),
    )
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def test_over_temperature_warning_then_fault(conn, anomalies):
    found = [e for e in episodes(conn, anomalies) if e["code"] == 6 and e["source"] == "threshold"]
    warning, fault = sorted(found, key=lambda e: e["level"])
    # 50.0 C at second 80 is not above 50; 50.1 C at 81 is. 55.1 C at 131 is above 55.
    assert (warning["level"], warning["start_time"], warning["end_time"]) == (1, at(81), at(179))
    assert (fault["level"], fault["start_time"], fault["end_time"]) == (2, at(131), at(179))
    assert warning["peak_value"] == fault["peak_value"] == 59.9
    assert (warning["rack_id"], warning["hazard"], fault["level_name"]) == (
        1,
        "over_temperature",
        "fault",
    )
    # the six missing seconds (150-155) do not split the episode
    assert fault["readings"] == 179 - 131 + 1 - 6
    assert "above 55" in fault["description_en"] and "초과" in fault["description_ko"]
    assert not warning["ongoing"]


def test_discharge_over_current_is_detected(conn, anomalies):
    (episode,) = [e for e in episodes(conn, anomalies) if e["code"] == 5]
    assert episode["hazard"] == "discharge_over_current"
    assert (episode["bank_id"], episode["rack_id"], episode["level"]) == (1, 2, 2)
    assert (episode["start_time"], episode["end_time"]) == (at(200), at(229))
    assert episode["peak_value"] == 130.0  # discharge current, positive while discharging
    assert episode["source_column"] == "discharge_current"


def test_charge_over_current(conn, anomalies):
    (episode,) = [e for e in episodes(conn, anomalies) if e["code"] == 4]
    assert (episode["bank_id"], episode["rack_id"], episode["level"]) == (2, 2, 2)
    assert (episode["start_time"], episode["end_time"], episode["peak_value"]) == (
        at(40),
        at(49),
        125.0,
    )


def test_bms_flag_episodes_merge_short_gaps(conn, anomalies):
    found = [e for e in episodes(conn, anomalies) if e["source"] == "bms_flag"]
    assert [(e["start_time"], e["end_time"], e["readings"]) for e in found] == [
        (at(10), at(29), 15),
        (at(100), at(104), 5),
    ]
    assert {(e["code"], e["level"], e["rack_id"]) for e in found} == {(6, 1, 3)}
    assert found[0]["source_column"] == "rack_over_temperature_warning"
    # the peak of a flag episode is its hazard's quantity: rack 3 stays at 30 C
    assert found[0]["peak_value"] == 30.0


def test_max_gap_sets_how_far_apart_readings_of_one_episode_may_be(conn, anomalies):
    flags = conn.execute(
        "SELECT start_time, end_time FROM ess.protection_episodes(%s, %s, %s, %s) "
        "WHERE source = 'bms_flag' ORDER BY start_time",
        (anomalies, *WINDOW, timedelta(seconds=3)),
    ).fetchall()
    assert flags == [(at(10), at(19)), (at(25), at(29)), (at(100), at(104))]
    # 1 Hz data: the default is 10 s; 10-second data gets three intervals
    assert conn.execute(
        "SELECT ess.protection_max_gap(%s, %s, %s)", (anomalies, *WINDOW)
    ).fetchone()[0] == timedelta(seconds=10)


def test_default_gap_follows_coarse_data(conn, scratch_site):
    site = scratch_site(rack_counts=(1,))
    # every 10 s, one row missing in the middle of an over-temperature excursion
    rows = rack_rows(
        site,
        1,
        1,
        T0,
        600,
        step=10,
        skip={300},
        rack_max_cell_temperature=lambda s: 52.0 if 200 <= s < 400 else 30.0,
    )
    store(conn, "rack", rows)
    assert conn.execute(
        "SELECT ess.protection_max_gap(%s, %s, %s)", (site, T0, T0 + timedelta(minutes=10))
    ).fetchone()[0] == timedelta(seconds=30)
    found = conn.execute(
        "SELECT start_time, end_time, readings FROM ess.protection_episodes(%s, %s, %s) "
        "WHERE code = 6 AND level = 1",
        (site, T0, T0 + timedelta(minutes=10)),
    ).fetchall()
    assert found == [(at(200), at(390), 19)]


def test_episode_holding_at_window_end_is_ongoing(conn, anomalies):
    (episode,) = [e for e in episodes(conn, anomalies) if e["code"] == 3]
    assert (episode["bank_id"], episode["rack_id"], episode["level"]) == (2, 1, 1)
    assert episode["start_time"] == at(290)
    assert episode["ongoing"] and episode["end_time"] is None and episode["last_seen"] == at(299)


def test_filters_by_level_and_code(conn, anomalies):
    assert {e["level"] for e in episodes(conn, anomalies, level=2)} == {2}
    assert {e["code"] for e in episodes(conn, anomalies, code=6)} == {6}
    # no temperature-imbalance rule fires: gaps stay at 6 C
    assert episodes(conn, anomalies, code=8) == []


def test_every_mapped_bms_flag_raises_its_episode(conn, scratch_site):
    site = scratch_site(rack_counts=(1,))
    flags = conn.execute("SELECT flag_column, code, level FROM ess.bms_flag ORDER BY 1").fetchall()
    rows = []
    for index, (flag, _, _) in enumerate(flags):
        # each flag on for 3 s, 30 s apart
        rows += rack_rows(site, 1, 1, at(30 * index), 3, **{flag: 1})
    store(conn, "rack", rows)
    found = conn.execute(
        "SELECT source_column, code, level, start_time, end_time FROM "
        "ess.protection_episodes(%s, %s, %s) WHERE source = 'bms_flag' ORDER BY start_time",
        (site, T0, T0 + timedelta(hours=1)),
    ).fetchall()
    assert found == [
        (flag, code, level, at(30 * i), at(30 * i + 2))
        for i, (flag, code, level) in enumerate(flags)
    ]


def test_site_thresholds_override_the_defaults(conn, scratch_site):
    site = scratch_site(rack_counts=(1,))
    rows = rack_rows(
        site, 1, 1, T0, 60, rack_max_cell_temperature=lambda s: 45.0 if s >= 30 else 30.0
    )
    store(conn, "rack", rows)
    assert not [e for e in episodes(conn, site) if e["code"] == 6]
    # levels below the default release value (47.3) need the site's own release value first
    conn.execute("SELECT ess.set_sos_parameter(%s, 'over_temperature', 35, 40)", (site,))
    conn.execute(
        "INSERT INTO ess.protection_threshold "
        "(site_id, code, quantity, direction, warning_level, fault_level, unit) "
        "VALUES (%s, 6, 'rack_max_cell_temperature', 'above', 40, 44, '°C')",
        (site,),
    )
    found = sorted((e["level"], e["start_time"]) for e in episodes(conn, site) if e["code"] == 6)
    assert found == [(1, at(30)), (2, at(30))]


def test_level_counts_per_bucket(conn, anomalies):
    counts = conn.execute(
        "SELECT bucket, level, level_count, episode_count "
        "FROM ess.protection_level_counts(%s, %s, %s, '1 minute')",
        (anomalies, *WINDOW),
    ).fetchall()
    # newest bucket first, then level
    assert [(bucket, level) for bucket, level, _, _ in counts] == sorted(
        ((bucket, level) for bucket, level, _, _ in counts), key=lambda k: (-k[0].timestamp(), k[1])
    )
    by_key = {(bucket, level): (n, episodes) for bucket, level, n, episodes in counts}
    # minute 0: the BMS flag episode (15 readings) and the charge over-current fault (10)
    assert by_key[(at(0), 1)] == (15, 1)
    assert by_key[(at(0), 2)] == (10, 1)
    # minute 1: over-temperature warning starts (81-119: 39 readings) and the second flag burst
    assert by_key[(at(60), 1)] == (39 + 5, 2)
    # minute 2: rack 1 above 50 C throughout (120-179 less six missing seconds); from 131 on it
    # is above 55 C: those 43 readings count at level 2 only, and the fault episode starts
    assert by_key[(at(120), 1)] == (11, 0)
    assert by_key[(at(120), 2)] == (43, 1)
    # minute 3: the discharge over-current fault, 30 readings
    assert by_key[(at(180), 2)] == (30, 1)
    assert (at(180), 1) not in by_key


def test_episodes_endpoint_pages(anomalies, client):
    url = f"/api/ess-feature/protectionmap/operating-sites/{anomalies}/"
    params = {
        "start-time": "2022-06-01T10:00:00",
        "end-time": "2022-06-01T10:05:00+09:00",
        "page_size": "3",
    }
    first = client.get(url, params=params)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["count"] == 7 and len(body["results"]) == 3 and body["previous"] is None
    newest = body["results"][0]
    assert newest["start_time"] == "2022-06-01T10:04:50+09:00" and newest["end_time"] is None
    assert set(newest) >= {"operating_site", "bank_id", "rack_id", "error_code", "level"}
    assert {"description", "description_eng", "peak_value", "source"} <= set(newest)
    second = client.get(body["next"]).json()
    third = client.get(second["next"]).json()
    assert third["next"] is None and len(third["results"]) == 1
    seen = [r["start_time"] for page in (body, second, third) for r in page["results"]]
    assert seen == sorted(seen, reverse=True) and len(seen) == 7
    back = client.get(second["previous"]).json()
    assert back["results"] == body["results"]

    faults = client.get(url, params={**params, "level": "fault", "page_size": "100"}).json()
    assert {r["level"]["id"] for r in faults["results"]} == {2} and faults["count"] == 3
    current = client.get(url, params={**params, "error-code": "5"}).json()
    assert [r["hazard"] for r in current["results"]] == ["discharge_over_current"]


def test_log_level_count_endpoint(anomalies, client):
    url = f"/api/ess-feature/protectionmap/operating-sites/{anomalies}/stats/log-level-count/"
    answer = client.get(
        url,
        params={
            "time-bucket-width": "5 minutes",
            "start-time": "2022-06-01T10:00:00",
            "end-time": "2022-06-01T10:05:00",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {
            "time": "2022-06-01T10:00:00+09:00",
            "operating_site": anomalies,
            "level": 1,
            # rack 1 above 50 C (93 readings, 43 of them above 55 C: level 2 only), the flag
            # bursts of rack 3 (20) and the voltage imbalance of bank 2 rack 1 (10)
            "level_count": 93 - 43 + 20 + 10,
            "episode_count": 4,
        },
        {
            "time": "2022-06-01T10:00:00+09:00",
            "operating_site": anomalies,
            "level": 2,
            "level_count": 43 + 30 + 10,
            "episode_count": 3,
        },
    ]


def test_date_is_the_local_day(anomalies, client):
    url = f"/api/ess-feature/protectionmap/operating-sites/{anomalies}/"
    assert day_answer(client, url, "2022-06-01")["count"] == 7
    counts = day_answer(client, url + "stats/log-level-count/", "2022-06-01")
    assert {c["level"]: c["level_count"] for c in counts} == {1: 80, 2: 83}
    assert {c["level"]: c["episode_count"] for c in counts} == {1: 4, 2: 3}


@pytest.mark.parametrize(
    ("path", "params", "status", "parameter"),
    [
        ("/", {"date": "2022-06-01", "start-time": "2022-06-01T10:00:00"}, 400, "date"),
        ("/stats/log-level-count/", {"date": "2022-06-01", "end-time": "2022-06-02"}, 400, "date"),
        ("/", {"end-time": "2022-06-01T10:05:00"}, 400, "start-time"),
        ("/", {"start-time": "2022-06-01T10:00:00", "end-time": "yesterday"}, 400, "end-time"),
        ("/", {"start-time": "2021-05-01", "end-time": "2022-06-02"}, 400, "end-time"),
        ("/", {"start-time": "2022-06-01", "end-time": "2022-06-02", "level": "3"}, 400, "level"),
        (
            "/",
            {"start-time": "2022-06-01", "end-time": "2022-06-02", "error-code": "x"},
            400,
            "error-code",
        ),
        ("/", {"start-time": "2022-06-01", "end-time": "2022-06-02", "page": "0"}, 400, "page"),
        (
            "/",
            {"start-time": "2022-06-01", "end-time": "2022-06-02", "max-gap": "2 hours"},
            400,
            "max-gap",
        ),
        (
            "/",
            {"start-time": "2022-06-01", "end-time": "2022-06-02", "page_size": "100000"},
            400,
            "page_size",
        ),
        ("/", {"start-time": "2022-06-01", "end-time": "2022-06-02", "page": "9"}, 404, "page"),
        (
            "/stats/log-level-count/",
            {"start-time": "2022-06-01", "end-time": "2022-06-02", "time-bucket-width": "1 s"},
            400,
            "time-bucket-width",
        ),
        (
            "/stats/log-level-count/",
            {"start-time": "2022-06-01", "end-time": "2022-06-02", "time-bucket-width": "soon"},
            400,
            "time-bucket-width",
        ),
    ],
)
def test_bad_inputs_are_problems(anomalies, client, path, params, status, parameter):
    url = f"/api/ess-feature/protectionmap/operating-sites/{anomalies}{path}"
    answer = client.get(url, params=params)
    assert_problem(answer, status, parameter)


def test_unknown_site_is_not_found(client):
    answer = client.get(
        "/api/ess-feature/protectionmap/operating-sites/32000/",
        params={"start-time": "2022-06-01", "end-time": "2022-06-02"},
    )
    assert answer.status_code == 404 and answer.json()["parameter"] == "site"


# -- the flags of the master BMS and of the modules


def test_master_rack_communication_and_module_faults_are_events(conn, scratch_site):
    site = scratch_site(template_site=1, rack_counts=(3,))
    # site 1's columns: a flag per rack and one for the bank (rack 0, as the earlier logger)
    bank_rows = [
        {"ts": at(s), "site_id": site, "bank_id": 1}
        | {"rack_n003_master_rack_communication_fault": int(10 <= s < 20)}
        | {"master_rack_communication_fault": "1" if 10 <= s < 14 else "0"}
        for s in range(60)
    ]
    # sites 2 and 3: a map per bank row, and a map of module flags per rack row
    bank_rows += [
        {"ts": at(s), "site_id": site, "bank_id": 2}
        | {"master_rack_communication_fault": '{"rack1": 0, "rack2": 1}' if s >= 30 else None}
        for s in range(60)
    ]
    store(conn, "bank", bank_rows)
    rows = rack_rows(
        site,
        1,
        2,
        T0,
        60,
        rack_module_fault=lambda s: (
            '{"module1": 0, "module7": 1, "module9": 1}' if 40 <= s < 45 else '{"module1": 0}'
        ),
    )
    store(conn, "rack", rows)
    found = conn.execute(
        "SELECT bank_id, rack_id, code, level, source_column, start_time, end_time, readings, "
        "peak_value FROM ess.protection_episodes(%s, %s, %s) ORDER BY start_time, bank_id",
        (site, T0, at(60)),
    ).fetchall()
    assert found == [
        (1, 0, 14, 2, "master_rack_communication_fault", at(10), at(13), 4, None),
        (1, 3, 14, 2, "rack_n003_master_rack_communication_fault", at(10), at(19), 10, None),
        (2, 2, 14, 2, "master_rack_communication_fault", at(30), None, 30, None),
        (1, 2, 15, 2, "rack_module_fault", at(40), at(44), 5, 2.0),
    ]


# -- the stored events: always the answer of the on-the-fly evaluation


def random_rack_rows(
    site: int, rng: random.Random, start: datetime, seconds: int, hot_at: int
) -> list[dict]:
    """Two racks at 1 Hz with a few missing seconds, temperature excursions past the warning
    and the fault levels (one of them over second `hot_at`) and bursts of the BMS's
    over-temperature fault flag."""
    rows = []
    for rack in (1, 2):
        heat = [(hot_at - 30, 60, 56.0)]
        heat += [
            (rng.randrange(seconds), rng.randrange(5, 120), rng.choice((51.0, 56.0)))
            for _ in range(12)
        ]
        flag = [(rng.randrange(seconds), rng.randrange(1, 30)) for _ in range(8)]
        rows += rack_rows(
            site,
            1,
            rack,
            start,
            seconds,
            skip=rng.sample(range(seconds), seconds // 50),
            rack_max_cell_temperature=lambda s, heat=heat: max(
                (v for b, d, v in heat if b <= s < b + d), default=30.0
            ),
            rack_over_temperature_fault=lambda s, flag=flag: int(
                any(b <= s < b + d for b, d in flag)
            ),
        )
    return rows


def answers(conn: psycopg.Connection, site: int, start: datetime, end: datetime, stored: bool):
    episodes = conn.execute(
        "SELECT * FROM ess.protection_episodes(%s, %s, %s, p_use_store => %s)",
        (site, start, end, stored),
    ).fetchall()
    counts = conn.execute(
        "SELECT * FROM ess.protection_level_counts(%s, %s, %s, '1 minute', p_use_store => %s)",
        (site, start, end, stored),
    ).fetchall()
    return sorted(episodes, key=repr), counts


def watermark(conn: psycopg.Connection, site: int) -> datetime | None:
    row = conn.execute(
        "SELECT stored_until FROM ess.protection_event_watermark WHERE site_id = %s", (site,)
    ).fetchone()
    return row[0] if row else None


def test_stored_events_answer_as_the_on_the_fly_evaluation(conn, scratch_site):
    site = scratch_site(rack_counts=(2,))
    rng = random.Random(12)
    rows = random_rack_rows(site, rng, T0, 2400, hot_at=1500)
    split = at(1500)
    store(conn, "rack", [r for r in rows if r["ts"] < split])
    assert conn.execute("SELECT ess.refresh_protection_events(%s)", (site,)).fetchone()[0] > 0
    stored_until = watermark(conn, site)
    assert stored_until is not None and split - timedelta(seconds=3) < stored_until < split
    # rows arriving after the last refresh are read on the fly
    store(conn, "rack", [r for r in rows if r["ts"] >= split])
    assert watermark(conn, site) == stored_until
    edges = [(T0, at(2400)), (stored_until - timedelta(minutes=3), stored_until + timedelta(1))]
    edges += [(T0 - timedelta(hours=1), stored_until), (stored_until, at(3000))]
    windows = edges + [
        tuple(sorted(at(rng.randrange(-300, 2700)) for _ in range(2))) for _ in range(25)
    ]
    compared = 0
    for start, end in windows:
        if start < end:
            stored = answers(conn, site, start, end, stored=True)
            assert stored == answers(conn, site, start, end, stored=False), (start, end)
            compared += bool(stored[0])
    assert compared > 20
    # an episode crosses the watermark: its readings come from both sides
    crossing = conn.execute(
        "SELECT count(*) FROM ess.protection_episodes(%s, %s, %s) "
        "WHERE start_time < %s AND last_seen >= %s",
        (site, T0, at(2400), stored_until, stored_until),
    ).fetchone()[0]
    assert crossing > 0


def test_a_backfill_below_the_watermark_is_evaluated_by_the_refresh(conn, scratch_site):
    site = scratch_site(rack_counts=(3,))
    store(conn, "rack", rack_rows(site, 1, 1, T0, 600))
    conn.execute("SELECT ess.refresh_protection_events(%s)", (site,))
    stored_until = watermark(conn, site)
    late = rack_rows(site, 1, 3, T0, 300, rack_max_cell_temperature=lambda s: 56.0)
    store(conn, "rack", late)
    window = (T0, at(600))
    assert answers(conn, site, *window, stored=True) != answers(conn, site, *window, stored=False)
    refresh_protection_events(conn, T0, at(300))
    assert answers(conn, site, *window, stored=True) == answers(conn, site, *window, stored=False)
    assert watermark(conn, site) == stored_until
    (count,) = conn.execute(
        "SELECT count(*) FROM ess.protection_event WHERE site_id = %s AND rack_id = 3", (site,)
    ).fetchone()
    assert count == 600  # 300 readings above 55 C: a warning and a fault event each


def test_a_threshold_change_forgets_the_stored_events(conn, scratch_site):
    site = scratch_site(rack_counts=(1,))
    store(conn, "rack", rack_rows(site, 1, 1, T0, 60, rack_max_cell_temperature=45.0))
    conn.execute("SELECT ess.refresh_protection_events(%s)", (site,))
    assert watermark(conn, site) is not None
    # the SoS release value must stay below the new warning level (migration 0011)
    conn.execute("SELECT ess.set_sos_parameter(%s, 'over_temperature', 35, 40)", (site,))
    conn.execute(
        "INSERT INTO ess.protection_threshold "
        "(site_id, code, quantity, direction, warning_level, fault_level, unit) "
        "VALUES (%s, 6, 'rack_max_cell_temperature', 'above', 40, 44, '°C')",
        (site,),
    )
    assert watermark(conn, site) is None
    assert [e["level"] for e in episodes(conn, site) if e["code"] == 6] == [1, 2]
    conn.execute("SELECT ess.refresh_protection_events(%s)", (site,))
    assert answers(conn, site, *WINDOW, stored=True) == answers(conn, site, *WINDOW, stored=False)


def test_the_loader_refreshes_what_it_loaded_and_a_job_refreshes_the_rest(conn, scratch_site):
    site = scratch_site(rack_counts=(1,))
    store(conn, "rack", rack_rows(site, 1, 1, T0, 120, rack_max_cell_temperature=56.0))
    loaded = FileReport(Path("rack.csv"), first_micros=micros(T0), last_micros=micros(at(119)))
    refresh_loaded(conn, [loaded])
    assert watermark(conn, site) == at(119)  # the newest second stays live: racks may follow
    store(conn, "rack", rack_rows(site, 1, 1, at(120), 60))
    jobs = conn.execute(
        "SELECT count(*) FROM timescaledb_information.jobs "
        "WHERE proc_schema = 'ess' AND proc_name = 'refresh_protection_events_job'"
    ).fetchone()[0]
    assert jobs == 1
    conn.execute("CALL ess.refresh_protection_events_job(0, NULL)")
    assert watermark(conn, site) == at(179)


def test_the_demo_refreshes_the_days_it_wrote(conn, scratch_site, migrated_url):
    site = scratch_site(template_site=1, rack_counts=(2,))
    # a command's connection, as `ess demo` has: no request timeout on a busy server
    with connect(migrated_url) as command:
        generate(command, sites=(site,), start=date(2022, 8, 1), interval=timedelta(seconds=60))
    newest = conn.execute("SELECT max(ts) FROM ess.rack WHERE site_id = %s", (site,)).fetchone()
    assert watermark(conn, site) == newest[0]
    window = (datetime(2022, 8, 1, tzinfo=SEOUL), datetime(2022, 8, 2, tzinfo=SEOUL))
    assert answers(conn, site, *window, stored=True) == answers(conn, site, *window, stored=False)


def micros(moment: datetime) -> int:
    return (moment - PG_EPOCH) // timedelta(microseconds=1)
