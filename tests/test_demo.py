"""`ess demo`: the generator writes deterministic, complete, believable rows for any site of the
catalog, with the injected anomalies and the BMS flags that go with them.

Every test works on scratch sites shaped like the reference sites (ess.add_site_like)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import sql

from api.cli import main
from api.config import REPO_ROOT
from api.demo import DEFAULT_DEMO, DemoError, generate
from api.demo import generator as demo_generator
from api.migrate import migrate
from tests.helpers import SEOUL, create_scratch_site

DEMO_SITES_FROM = 800
DAY = date(2023, 4, 10)
COMPONENTS = ("rack", "bank", "pcs", "etc")


def new_site(conn: psycopg.Connection, template: int, racks: tuple[int, ...]) -> int:
    # ids of this module's own range: the generator's random streams are keyed by site id,
    # so the data is the same whether the module runs alone or in the whole suite
    return create_scratch_site(conn, template, racks, first_id=DEMO_SITES_FROM)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=SEOUL)


@pytest.fixture(scope="module")
def panli_day(pool) -> int:
    """A site shaped like Panli (41J cells, two banks) with one local day at 10 s."""
    with pool.connection() as conn:
        site_id = new_site(conn, 2, (4, 3))
        generate(conn, sites=(site_id,), start=DAY, days=1, interval=timedelta(seconds=10), seed=3)
    return site_id


@pytest.fixture(scope="module")
def sites_by_template(pool) -> dict[int, int]:
    """One local day at 60 s for a site shaped like each reference site."""
    with pool.connection() as conn:
        made = {t: new_site(conn, t, racks) for t, racks in ((1, (3,)), (2, (2, 2)), (3, (5,)))}
        generate(conn, sites=tuple(made.values()), start=DAY, interval=timedelta(seconds=60))
    return made


def anomaly(conn: psycopg.Connection, site_id: int, kind: str) -> dict:
    cur = conn.execute(
        "SELECT * FROM ess.demo_anomaly WHERE site_id = %s AND kind = %s", (site_id, kind)
    )
    names = [d.name for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def rack_series(conn, site_id: int, bank: int, rack: int, columns: str) -> list[tuple]:
    return conn.execute(
        f"SELECT ts, {columns} FROM ess.rack WHERE site_id = %s AND bank_id = %s AND rack_id = %s"
        " ORDER BY ts",
        (site_id, bank, rack),
    ).fetchall()


def fingerprint(conn: psycopg.Connection, site_id: int) -> dict[str, tuple[int, str]]:
    """Row count and md5 of every component's rows of a site, in key order."""
    prints = {}
    for component in COMPONENTS:
        prints[component] = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text)) "
                "FROM ess.{} AS t WHERE site_id = %s"
            ).format(sql.Identifier(component)),
            (site_id,),
        ).fetchone()
    return prints


def forget(conn: psycopg.Connection, site_id: int) -> None:
    for table in (*COMPONENTS, "demo_anomaly"):
        conn.execute(
            sql.SQL("DELETE FROM ess.{} WHERE site_id = %s").format(sql.Identifier(table)),
            (site_id,),
        )


def test_same_seed_same_rows_other_seed_other_rows_and_reruns_add_nothing(conn):
    site_id = new_site(conn, 3, (2, 1))
    window = {"sites": (site_id,), "start": DAY, "interval": timedelta(seconds=60)}

    generate(conn, **window, seed=11, refresh=False)
    first = fingerprint(conn, site_id)
    rerun = generate(conn, **window, seed=11, refresh=False)
    assert rerun.total_rows == 0 and fingerprint(conn, site_id) == first
    assert (
        conn.execute(
            "SELECT count(*) FROM ess.demo_anomaly WHERE site_id = %s", (site_id,)
        ).fetchone()[0]
        == 4
    )

    forget(conn, site_id)
    generate(conn, **window, seed=11, refresh=False)
    again = fingerprint(conn, site_id)
    forget(conn, site_id)
    generate(conn, **window, seed=12, refresh=False)
    other = fingerprint(conn, site_id)

    assert all(count > 1000 for count, _ in first.values())
    assert again == first
    assert all(other[c][1] != first[c][1] for c in COMPONENTS)


def test_slices_and_the_sql_entry_point_give_the_same_rows(conn, monkeypatch):
    site_id = new_site(conn, 2, (2, 1))
    conn.execute(
        "SELECT * FROM ess.demo_generate(%s::smallint, %s, %s, '2 minutes', 5)",
        (site_id, local(DAY, 0), local(DAY + timedelta(days=1), 0)),
    )
    in_one_statement = fingerprint(conn, site_id)
    forget(conn, site_id)
    monkeypatch.setattr(demo_generator, "MAX_ROWS_PER_STATEMENT", 500)  # 8 slices
    generate(
        conn, sites=(site_id,), start=DAY, interval=timedelta(minutes=2), seed=5, refresh=False
    )
    assert fingerprint(conn, site_id) == in_one_statement


def test_every_catalog_column_is_filled(conn, sites_by_template):
    for site_id in sites_by_template.values():
        sources = conn.execute(
            "SELECT component, column_name, source FROM ess.demo_column_sources(%s::smallint)",
            (site_id,),
        ).fetchall()
        assert not [s for s in sources if s[2] == "null"]
        for component in COMPONENTS:
            columns = [c for comp, c, _ in sources if comp == component]
            counts = conn.execute(
                sql.SQL("SELECT count(*), {} FROM ess.{} WHERE site_id = %s").format(
                    sql.SQL(", ").join(
                        sql.SQL("count({})").format(sql.Identifier(c)) for c in columns
                    ),
                    sql.Identifier(component),
                ),
                (site_id,),
            ).fetchone()
            rows, filled = counts[0], dict(zip(columns, counts[1:], strict=True))
            assert rows > 1000, (site_id, component)
            assert {c: n for c, n in filled.items() if n != rows} == {}, (site_id, component)


def test_columns_a_site_does_not_report_stay_empty(conn, sites_by_template):
    sionyu_like = sites_by_template[1]
    # rack_module_fault and the module humidity belong to sites 2 and 3 only
    assert conn.execute(
        "SELECT count(rack_module_fault), count(rack_max_module_humidity), count(*)"
        " FROM ess.rack WHERE site_id = %s",
        (sionyu_like,),
    ).fetchone()[:2] == (0, 0)


@pytest.mark.parametrize(
    ("template", "volts", "cells", "soh_fades"),
    [
        (1, (660, 800), (3.25, 3.95), True),
        (2, (790, 980), (3.25, 4.045), False),
        (3, (660, 800), (3.25, 3.95), True),
    ],
)
def test_values_stay_in_each_site_types_ranges(
    conn, sites_by_template, template, volts, cells, soh_fades
):
    site_id = sites_by_template[template]
    (
        soc_min,
        soc_max,
        v_min,
        v_max,
        cell_min,
        cell_max,
        t_min,
        t_max,
        gap_min,
        gap_max,
        soh_min,
        soh_max,
        i_min,
        i_max,
    ) = conn.execute(
        """
        SELECT min(rack_soc), max(rack_soc), min(rack_voltage), max(rack_voltage),
               min(rack_min_cell_voltage), max(rack_max_cell_voltage),
               min(rack_min_cell_temperature), max(rack_max_cell_temperature),
               min(rack_cell_temperature_gap), max(rack_cell_temperature_gap),
               min(rack_soh), max(rack_soh), min(rack_current), max(rack_current)
        FROM ess.rack AS r
        WHERE site_id = %s AND NOT EXISTS (
            SELECT FROM ess.demo_anomaly AS a
            WHERE a.site_id = r.site_id AND a.bank_id = r.bank_id AND a.rack_id = r.rack_id
        )
        """,
        (site_id,),
    ).fetchone()
    # the day's clouds set how far the battery charges: a clear day fills it to 89.5 %
    assert 0 <= soc_min <= 1 and 20 <= soc_max <= 90
    assert volts[0] <= v_min and v_max <= volts[1]
    assert cells[0] <= cell_min and cell_max <= cells[1]
    assert t_min >= 21 and t_max <= 40
    assert gap_min >= 5.5 and gap_max <= 11
    assert -45 <= i_min < -5 and 10 < i_max <= 70
    if soh_fades:
        assert soh_min > 80 and soh_max < 100
    else:
        assert soh_min == soh_max == 100
    humidity = conn.execute(
        "SELECT min(sensor1_humidity), max(sensor1_humidity) FROM ess.etc WHERE site_id = %s",
        (site_id,),
    ).fetchone()
    assert humidity[0] >= 20 and humidity[1] <= 50
    if template != 1:  # module humidity: sites 2 and 3
        modules = conn.execute(
            "SELECT min(rack_min_module_humidity), max(rack_max_module_humidity) FROM ess.rack"
            " WHERE site_id = %s",
            (site_id,),
        ).fetchone()
        assert modules[0] >= 20 and modules[1] <= 50
    # quantisation: 0.1 V, 1 mV, 0.1 A, 0.1 %
    assert (
        conn.execute(
            """
        SELECT count(*) FROM ess.rack WHERE site_id = %s AND (
            rack_voltage * 10 <> round(rack_voltage * 10)
            OR rack_min_cell_voltage * 1000 <> round(rack_min_cell_voltage * 1000)
            OR rack_current * 10 <> round(rack_current * 10)
            OR rack_soc * 10 <> round(rack_soc * 10))
        """,
            (site_id,),
        ).fetchone()[0]
        == 0
    )


def test_daily_cycle_charges_late_morning_and_discharges_in_the_evening(conn, panli_day):
    def bank_current(h0: int, h1: int) -> tuple[float, float]:
        return conn.execute(
            "SELECT avg(bank_dc_current), max(abs(bank_dc_current)) FROM ess.bank"
            " WHERE site_id = %s AND ts >= %s AND ts < %s",
            (panli_day, local(DAY, h0), local(DAY, h1)),
        ).fetchone()

    night, morning, noon, afternoon, evening = (
        bank_current(1, 9),
        bank_current(10, 13),
        bank_current(11, 12),
        bank_current(14, 15),
        bank_current(17, 22),
    )
    # cloudy or clear, the battery rests at night and in the afternoon
    assert night[1] < 2 and afternoon[1] < 2
    assert morning[0] > 20 and noon[1] <= 4 * 70  # charging (4 racks, about 62 A at most)
    assert evening[0] < -10
    soc = dict(
        conn.execute(
            "SELECT extract(hour FROM ts AT TIME ZONE 'Asia/Seoul')::int, avg(bank_soc)"
            " FROM ess.bank WHERE site_id = %s AND bank_id = 1 GROUP BY 1",
            (panli_day,),
        ).fetchall()
    )
    assert soc[3] < 1 and soc[15] > 20 and soc[23] < 1
    assert soc[11] < soc[12] < soc[13]
    assert soc[17] > soc[19] > soc[21]


def test_about_two_and_a_half_percent_of_the_seconds_are_missing(conn, panli_day):
    expected = 8640  # one day at 10 s
    for component, key in (("bank", "bank_id = 1"), ("pcs", "TRUE"), ("etc", "TRUE")):
        stored = conn.execute(
            f"SELECT count(*) FROM ess.{component} WHERE site_id = %s AND {key}", (panli_day,)
        ).fetchone()[0]
        assert 0.015 <= 1 - stored / expected <= 0.04, component
    # the BMS logger drops whole seconds: every rack of a bank reports at the same instants
    assert (
        conn.execute(
            "SELECT count(DISTINCT n) FROM (SELECT count(*) AS n FROM ess.rack"
            " WHERE site_id = %s AND bank_id = 1 GROUP BY ts) AS per_second",
            (panli_day,),
        ).fetchone()[0]
        == 1
    )


def test_bank_and_pcs_agree_with_the_racks(conn, panli_day):
    mismatched = conn.execute(
        """
        WITH racks AS (
            SELECT bank_id, ts, avg(rack_soc) AS soc, sum(rack_current) AS current,
                   max(rack_max_cell_voltage) AS max_v, max(rack_over_temperature_fault) AS ot
            FROM ess.rack WHERE site_id = %(site)s GROUP BY bank_id, ts
        )
        SELECT count(*) FROM ess.bank AS b
        LEFT JOIN racks ON racks.bank_id = b.bank_id AND racks.ts = b.ts
        WHERE b.site_id = %(site)s AND (
            racks.ts IS NULL
            OR abs(b.bank_soc - racks.soc) > 0.06 OR abs(b.bank_dc_current - racks.current) > 0.06
            OR b.max_cell_voltage_of_bank <> racks.max_v
            OR b.rack_over_temperature_fault <> racks.ot
            OR abs(b.bank_power - b.bank_dc_volt * b.bank_dc_current / 1000) > 0.06)
        """,
        {"site": panli_day},
    ).fetchone()[0]
    assert mismatched == 0
    # the PCS's DC power is the banks' power (the racks' measurement noise aside)
    worst, compared = conn.execute(
        """
        WITH banks AS (
            SELECT ts, sum(bank_power) AS power FROM ess.bank
            WHERE site_id = %(site)s GROUP BY ts HAVING count(*) = 2
        )
        SELECT max(abs(p.ai_pdc - banks.power) - 0.02 * abs(p.ai_pdc)), count(*)
        FROM ess.pcs AS p INNER JOIN banks ON banks.ts = p.ts
        WHERE p.site_id = %(site)s
        """,
        {"site": panli_day},
    ).fetchone()
    assert compared > 8000 and worst < 3


def test_weak_cell_holds_the_min_position_and_sags_progressively(conn, panli_day):
    weak = anomaly(conn, panli_day, "weak_cell")
    rows = rack_series(
        conn,
        panli_day,
        weak["bank_id"],
        weak["rack_id"],
        "rack_min_cell_voltage_position, rack_cell_voltage_gap",
    )
    assert {position for _, position, _ in rows} == {weak["cell_position"]}

    def rest_gap(start: datetime, end: datetime) -> float:
        gaps = [gap for ts, _, gap in rows if start <= ts < end]
        return sum(gaps) / len(gaps)

    # both at rest near empty
    assert (
        rest_gap(local(DAY, 23), local(DAY, 23, 59)) - rest_gap(local(DAY, 1), local(DAY, 3)) > 0.02
    )
    other = rack_series(conn, panli_day, 2, 1, "rack_min_cell_voltage_position")
    assert len({position for _, position in other}) > 1


def flag_story(rows, warning_index: int, fault_index: int):
    """The instants of the first warning, first fault, last fault and last warning."""
    warnings = [r[0] for r in rows if r[warning_index] == 1]
    faults = [r[0] for r in rows if r[fault_index] == 1]
    return warnings[0], faults[0], faults[-1], warnings[-1]


def test_over_temperature_episode_crosses_warning_then_fault_and_back(conn, panli_day):
    hot = anomaly(conn, panli_day, "over_temperature")
    assert hot["starts_at"] == local(DAY, 11, 30) and hot["ends_at"] == local(DAY, 12, 20)
    rows = rack_series(
        conn,
        panli_day,
        hot["bank_id"],
        hot["rack_id"],
        "rack_max_cell_temperature, rack_over_temperature_warning, "
        "rack_over_temperature_fault, rack_max_cell_temperature_position, rack_module_fault, "
        "rack_status_for_fault",
    )
    for _, t, warning, fault, _, _, status in rows:
        assert warning == (t > 50) and fault == (t > 55) and status == fault
    first_warning, first_fault, last_fault, last_warning = flag_story(rows, 2, 3)
    assert hot["starts_at"] < first_warning < first_fault < last_fault < last_warning
    assert last_warning < hot["ends_at"]
    assert max(r[1] for r in rows) >= 57
    at_peak = [r for r in rows if r[3] == 1]
    module = f"module{(hot['cell_position'] - 1) // 12 + 1}"
    assert all(r[4] == hot["cell_position"] and r[5][module] == 1 for r in at_peak)
    assert sum(r[5][module] for r in rows) == len(at_peak)
    # the bank mirrors its rack
    bank_faults = conn.execute(
        "SELECT count(*) FROM ess.bank WHERE site_id = %s AND bank_id = %s"
        " AND rack_over_temperature_fault = 1 AND battery_status_for_fault = 1",
        (panli_day, hot["bank_id"]),
    ).fetchone()[0]
    assert bank_faults == len(at_peak)


def test_voltage_imbalance_episode_crosses_warning_then_fault_and_back(conn, panli_day):
    episode = anomaly(conn, panli_day, "voltage_imbalance")
    assert episode["starts_at"] == local(DAY, 19)
    rows = rack_series(
        conn,
        panli_day,
        episode["bank_id"],
        episode["rack_id"],
        "rack_cell_voltage_gap, rack_voltage_imbalance_warning, rack_voltage_imbalance_fault,"
        " rack_max_cell_voltage - rack_min_cell_voltage, rack_tray_volatge_imbalance_warning",
    )
    for _, gap, warning, fault, spread, tray in rows:
        assert abs(gap - spread) < 1e-9
        assert warning == (gap > 0.3) == tray and fault == (gap > 0.5)
    first_warning, first_fault, last_fault, last_warning = flag_story(rows, 2, 3)
    assert episode["starts_at"] < first_warning < first_fault < last_fault < last_warning
    assert last_warning < episode["ends_at"]
    assert max(r[1] for r in rows) > 0.55


def test_discharge_over_current_episode(conn, panli_day):
    surge = anomaly(conn, panli_day, "discharge_over_current")
    assert surge["starts_at"] == local(DAY, 20, 15)
    rows = rack_series(
        conn,
        panli_day,
        surge["bank_id"],
        surge["rack_id"],
        "rack_current, rack_over_current_discharge_fault, rack_current_sensor_discharge",
    )
    for _, current, fault, discharging in rows:
        assert fault == (-current > 120)
        assert discharging == 1 or not fault
    during = [r for r in rows if r[2] == 1]
    assert during and all(surge["starts_at"] < r[0] < surge["ends_at"] for r in during)
    assert min(r[1] for r in rows) <= -130


def test_no_flag_is_raised_outside_the_anomalies(conn, panli_day):
    raised = conn.execute(
        """
        SELECT count(*) FROM ess.rack AS r
        WHERE r.site_id = %s
          AND (r.rack_status_for_warning = 1 OR r.rack_status_for_fault = 1)
          AND NOT EXISTS (
            SELECT FROM ess.demo_anomaly AS a
            WHERE a.site_id = r.site_id AND a.bank_id = r.bank_id AND a.rack_id = r.rack_id
              AND r.ts >= a.starts_at AND r.ts < a.ends_at AND a.kind <> 'weak_cell')
        """,
        (panli_day,),
    ).fetchone()[0]
    assert raised == 0


def test_the_window_and_anomaly_times_are_local(conn, sites_by_template):
    site_id = sites_by_template[2]
    first, last = conn.execute(
        "SELECT min(ts), max(ts) FROM ess.pcs WHERE site_id = %s", (site_id,)
    ).fetchone()
    assert local(DAY, 0) <= first < local(DAY, 0, 5)
    assert local(DAY, 23, 55) <= last < local(DAY + timedelta(days=1), 0)


def test_a_long_run_compresses_the_chunks_it_wrote_entirely(conn):
    # 2019: no other test writes there (compressed chunks hold every site's rows of their range)
    site_id = new_site(conn, 1, (2,))
    run = {"sites": (site_id,), "start": date(2019, 6, 1), "days": 3, "refresh": False}
    report = generate(conn, **run, interval=timedelta(minutes=2))
    # rack chunks are UTC days: the 2nd and 3rd lie inside the three local days
    compressed = conn.execute(
        "SELECT range_start FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'rack' AND is_compressed AND range_start >= %s"
        " AND range_end <= %s ORDER BY range_start",
        (report.sites[0].start, report.sites[0].end),
    ).fetchall()
    assert [r[0].date() for r in compressed] == [date(2019, 6, 1), date(2019, 6, 2)]
    assert len(report.compressed) == 2
    again = generate(conn, **run, interval=timedelta(minutes=2))
    assert again.total_rows == 0 and again.compressed == []
    assert (
        conn.execute(
            "SELECT count(*) FROM ess.rack WHERE site_id = %s AND ts >= %s AND ts < %s",
            (site_id, compressed[0][0], compressed[1][0]),
        ).fetchone()[0]
        > 1000
    )


def test_a_site_elsewhere_follows_its_own_local_days(conn):
    berlin = ZoneInfo("Europe/Berlin")
    site_id = create_scratch_site(conn, 2, (1,), "Europe/Berlin", first_id=DEMO_SITES_FROM)
    day = date(2023, 3, 26)  # 23 hours: clocks go forward at 02:00
    generate(conn, sites=(site_id,), start=day, interval=timedelta(minutes=1), refresh=False)
    first, last, rows, charging_from = conn.execute(
        "SELECT min(ts), max(ts), count(*), min(ts) FILTER (WHERE ai_idc > 0)"
        " FROM ess.pcs WHERE site_id = %s",
        (site_id,),
    ).fetchone()
    assert datetime(2023, 3, 26, 0, 0, tzinfo=berlin) <= first
    assert last < datetime(2023, 3, 27, 0, 0, tzinfo=berlin)
    assert 0.95 * 23 * 60 < rows <= 23 * 60
    assert charging_from.astimezone(berlin).hour == 10


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--days", "0"], "--days: must be at least 1"),
        (["--interval", "0.5s"], "--interval"),
        (["--interval", "2 hours"], "--interval: must be a whole number of seconds"),
        (["--start", "2023-02-30"], "--start: '2023-02-30' is not a date"),
        (["--sites", "1,x"], "--sites: '1,x' is not a list of site ids"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    assert main(["demo", *argv]) == 2
    assert message in capsys.readouterr().err


def test_unknown_site_exits_2_naming_it(capsys, monkeypatch, migrated_url):
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    assert main(["demo", "--sites", "2,32001", "--no-refresh"]) == 2
    assert "--sites: unknown site 32001" in capsys.readouterr().err


def test_python_callers_get_the_same_checks(conn):
    with pytest.raises(DemoError, match="--days"):
        generate(conn, sites=(1,), days=-1)
    with pytest.raises(DemoError, match="--interval"):
        generate(conn, sites=(1,), interval=timedelta(milliseconds=1500))
    assert DEFAULT_DEMO.days >= 1 and DEFAULT_DEMO.interval <= timedelta(seconds=10)


def demo_function_names() -> set[str]:
    """The functions sql/demo/ defines."""
    text = "".join(path.read_text() for path in (REPO_ROOT / "sql" / "demo").glob("*.sql"))
    return set(re.findall(r"CREATE OR REPLACE FUNCTION ess\.(\w+)", text))


def installed_demo_functions(conn: psycopg.Connection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc AS p"
            " WHERE p.pronamespace = 'ess'::regnamespace AND p.proname = ANY(%s)"
            " ORDER BY 1",
            (sorted(demo_function_names()),),
        ).fetchall()
    ]


def test_migrate_installs_no_demo_generator_and_ess_demo_does(conn, monkeypatch, migrated_url):
    assert {"demo_generate", "demo_generate_slice", "demo_plan_anomalies"} <= demo_function_names()
    for signature in installed_demo_functions(conn):  # the test database has them: start afresh
        conn.execute(f"DROP FUNCTION {signature}")
    report = migrate(conn, REPO_ROOT / "sql")
    assert installed_demo_functions(conn) == []
    assert [name for name in report.reapplied if "demo" in name] == []

    site_id = new_site(conn, 2, (1,))
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    argv = ["demo", "--sites", str(site_id), "--interval", "1hour", "--no-refresh"]
    assert main(argv) == 0
    installed = installed_demo_functions(conn)
    assert {signature.split("(")[0].removeprefix("ess.") for signature in installed} == (
        demo_function_names()
    )
    rows = conn.execute("SELECT count(*) FROM ess.rack WHERE site_id = %s", (site_id,))
    assert rows.fetchone()[0] > 0
    # a second run replaces the functions in place and adds no rows
    assert main(argv) == 0
    assert installed_demo_functions(conn) == installed
