"""Time-bucketed aggregates: the API's answers equal the same aggregates computed in Python from
the raw rows, whichever source the planner picks (continuous aggregate or raw rows); fill modes;
a late row reaches the aggregates after refresh_aggregates; bad inputs are 4xx problems."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.analytics.aggregates.parse import AggregateRequest, Metric
from api.analytics.aggregates.plan import RAW_ROW_BUDGET, plan
from api.analytics.aggregates.sql import aggregate_levels, build_query, stored_levels
from api.catalog.model import Column, Site, load_catalog
from api.errors import ProblemError
from api.refresh import refresh_aggregates
from tests.helpers import SEOUL, assert_problem, create_scratch_site

DAY1 = datetime(2022, 3, 14, tzinfo=SEOUL)
WINDOW = (DAY1, DAY1 + timedelta(days=2))
GAP = (DAY1 + timedelta(hours=3), DAY1 + timedelta(hours=5))  # no rows at all
LOCAL_ORIGIN = datetime(2000, 1, 3)

# Rows every 37 s (about 4,700 per series), none in GAP, some SoC values NULL, plus one row at
# 23:59:59 and one at 00:00:00 local with extreme values: they must land in different days.
RACK_ROWS_SQL = """
INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_soh, rack_current,
                      rack_max_cell_voltage)
SELECT ts, %(site)s, 1, rack.id,
       CASE WHEN extract(epoch FROM ts)::bigint %% 13 = 0 THEN NULL
            ELSE (extract(epoch FROM ts)::bigint * (2 * rack.id + 5) %% 900) / 10.0 END,
       99 - rack.id * 0.5 + (extract(epoch FROM ts)::bigint %% 7) / 10.0,
       (extract(epoch FROM ts)::bigint %% 1201) / 10.0 - 60,
       3.5 + (extract(epoch FROM ts)::bigint %% 500) / 1000.0
FROM generate_series(%(start)s::timestamptz + interval '3 seconds', %(end)s::timestamptz
                     - interval '1 second', interval '37 seconds') AS ts
CROSS JOIN (VALUES (1), (2)) AS rack (id)
WHERE NOT (ts >= %(gap_start)s AND ts < %(gap_end)s)
UNION ALL
SELECT ts, %(site)s, 1, 1, soc, 100, 0, 3.6
FROM (VALUES (%(day_end)s::timestamptz - interval '1 second', 90.0),
             (%(day_end)s::timestamptz, 0.0)) AS edge (ts, soc)
"""
BANK_ROWS_SQL = """
INSERT INTO ess.bank (ts, site_id, bank_id, bank_soc, bank_soh, bank_power)
SELECT ts, %(site)s, 1,
       (extract(epoch FROM ts)::bigint * 11 %% 900) / 10.0,
       98.5 + (extract(epoch FROM ts)::bigint %% 5) / 10.0,
       (extract(epoch FROM ts)::bigint %% 7451) / 10.0 - 285
FROM generate_series(%(start)s::timestamptz, %(end)s::timestamptz - interval '1 second',
                     interval '53 seconds') AS ts
WHERE NOT (ts >= %(gap_start)s AND ts < %(gap_end)s)
"""


@pytest.fixture(scope="module")
def site_with_rows(pool) -> int:
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(2,))
        params = {
            "site": site_id,
            "start": WINDOW[0],
            "end": WINDOW[1],
            "gap_start": GAP[0],
            "gap_end": GAP[1],
            "day_end": DAY1 + timedelta(days=1),
        }
        conn.execute(RACK_ROWS_SQL, params)
        conn.execute(BANK_ROWS_SQL, params)
        refresh_aggregates(conn, *WINDOW)
    return site_id


def raw_rows(pool, site_id: int, component: str, columns: list[str], **keys) -> list[tuple]:
    # a connection of its own, released at once: the embedded engine's pool has one connection
    # and the API client needs it
    where = "".join(f" AND {k} = {int(v)}" for k, v in keys.items())
    with pool.connection() as conn:
        return conn.execute(
            f"SELECT ts, {', '.join(columns)} FROM ess.{component} "
            f"WHERE site_id = %s{where} ORDER BY ts",
            (site_id,),
        ).fetchall()


def local_bucket(ts: datetime, width: timedelta, tz: ZoneInfo = SEOUL) -> datetime:
    local = ts.astimezone(tz).replace(tzinfo=None)
    return (LOCAL_ORIGIN + (local - LOCAL_ORIGIN) // width * width).replace(tzinfo=tz)


PYTHON_AGGREGATES = {
    "avg": lambda values: statistics.fmean(values) if values else None,
    "min": lambda values: min(values, default=None),
    "max": lambda values: max(values, default=None),
    "sum": lambda values: sum(values) if values else None,
    "count": len,
}


def expected_buckets(rows, width, start, end, function="avg"):
    """{bucket start: aggregate of the non-null values} over rows in [start, end)."""
    grouped: dict[datetime, list[float]] = defaultdict(list)
    for ts, value in rows:
        if start <= ts < end:
            values = grouped[local_bucket(ts, width)]
            if value is not None:
                values.append(value)
    return {bucket: PYTHON_AGGREGATES[function](v) for bucket, v in sorted(grouped.items())}


def assert_series(items, expected, key):
    assert [datetime.fromisoformat(i["time"]) for i in items] == list(expected)
    assert all(i["time"].endswith("+09:00") for i in items)
    for item, value in zip(items, expected.values(), strict=True):
        if value is None:
            assert item[key] is None, item
        else:
            assert item[key] == pytest.approx(value, rel=1e-9, abs=1e-9), item


@pytest.mark.parametrize(
    ("width", "source", "window"),
    [
        ("1 minute", "ess.rack_1m", WINDOW),
        ("15 minutes", "ess.rack_1m", WINDOW),
        ("1hour", "ess.rack_1h", WINDOW),
        ("PT1H", "ess.rack_1h", WINDOW),
        ("1day", "ess.rack_1d", WINDOW),
        # a window starting at 23:30 local: the 1 h level cannot start there, 1 min can
        ("1 hour", "ess.rack_1m", (DAY1 + timedelta(hours=23, minutes=30), WINDOW[1])),
        (
            "30s",
            "ess.rack",
            (DAY1 + timedelta(hours=23, minutes=50), DAY1 + timedelta(days=1, minutes=10)),
        ),
    ],
)
def test_average_rack_soc_equals_python_over_raw_rows(
    site_with_rows, pool, client, width, source, window
):
    rows = raw_rows(pool, site_with_rows, "rack", ["rack_soc"], bank_id=1, rack_id=1)
    response = client.get(
        f"/api/ess/operating-sites/{site_with_rows}/banks/1/racks/1/stats/avg-rack-soc/",
        params={
            "time-bucket-width": width,
            "start-time": window[0].isoformat(),
            "end-time": window[1].isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["aggregate-source"] == source
    items = response.json()
    assert all(set(item) == {"time", "avg_rack_soc"} for item in items)
    width_delta = {"1 minute": 60, "15 minutes": 900, "30s": 30, "1day": 86400}.get(width, 3600)
    assert_series(
        items, expected_buckets(rows, timedelta(seconds=width_delta), *window), "avg_rack_soc"
    )


def test_rows_at_23_59_59_and_00_00_00_local_land_in_different_days(site_with_rows, client):
    response = client.get(
        f"/api/ess/operating-sites/{site_with_rows}/aggregate/",
        params={
            "component": "rack",
            "bank": 1,
            "rack": 1,
            "metrics": "max:rack_soc,min:rack_soc,count:rack_soc",
            "time-bucket-width": "1 minute",
            "start-time": "2022-03-14T23:59:00",  # the site's local time
            "end-time": "2022-03-15T00:01:00",
        },
    )
    assert response.status_code == 200, response.text
    last_minute, first_minute = response.json()
    assert last_minute["time"] == "2022-03-14T23:59:00+09:00"
    assert last_minute["max_rack_soc"] == 90.0
    assert first_minute["time"] == "2022-03-15T00:00:00+09:00"
    assert first_minute["min_rack_soc"] == 0.0


@pytest.mark.parametrize("function", ["min", "max", "sum", "count"])
def test_other_functions_per_rack_equal_python(site_with_rows, pool, client, function):
    response = client.get(
        f"/api/ess/operating-sites/{site_with_rows}/aggregate/",
        params={
            "component": "rack",
            "bank": 1,  # both racks: items carry rack_id
            "metrics": f"{function}:rack_current",
            "time-bucket-width": "1 hour",
            "start-time": WINDOW[0].isoformat(),
            "end-time": WINDOW[1].isoformat(),
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["aggregate-source"] == "ess.rack_1h"
    items = response.json()
    for rack in (1, 2):
        rows = raw_rows(pool, site_with_rows, "rack", ["rack_current"], bank_id=1, rack_id=rack)
        expected = expected_buckets(rows, timedelta(hours=1), *WINDOW, function)
        assert_series(
            [i for i in items if i["rack_id"] == rack], expected, f"{function}_rack_current"
        )
    assert all(set(i) == {"time", "rack_id", f"{function}_rack_current"} for i in items)


@pytest.mark.parametrize(
    ("endpoint", "column"),
    [("avg-bank-soc", "bank_soc"), ("avg-bank-soh", "bank_soh"), ("avg-bank-power", "bank_power")],
)
def test_bank_averages_of_the_specification(site_with_rows, pool, client, endpoint, column):
    rows = raw_rows(pool, site_with_rows, "bank", [column], bank_id=1)
    response = client.get(
        f"/api/ess/operating-sites/{site_with_rows}/banks/1/stats/{endpoint}/",
        params={"time-bucket-width": "1day", "date": "2022-03-15"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["aggregate-source"] == "ess.bank_1d"
    day2 = (DAY1 + timedelta(days=1), WINDOW[1])
    assert_series(
        response.json(), expected_buckets(rows, timedelta(days=1), *day2), f"avg_{column}"
    )


def test_first_and_last_come_from_raw_rows(site_with_rows, pool, client):
    rows = raw_rows(pool, site_with_rows, "rack", ["rack_soh"], bank_id=1, rack_id=2)
    response = client.get(
        f"/api/ess/operating-sites/{site_with_rows}/aggregate/",
        params={
            "component": "rack",
            "bank": 1,
            "rack": 2,
            "metrics": "first:rack_soh,last:rack_soh",
            "time-bucket-width": "6 hours",
            "date": "2022-03-14",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["aggregate-source"] == "ess.rack"
    firsts: dict[datetime, float] = {}
    lasts: dict[datetime, float] = {}
    for ts, value in rows:
        if WINDOW[0] <= ts < WINDOW[0] + timedelta(days=1):
            firsts.setdefault(local_bucket(ts, timedelta(hours=6)), value)
            lasts[local_bucket(ts, timedelta(hours=6))] = value
    assert_series(response.json(), firsts, "first_rack_soh")
    assert_series(response.json(), lasts, "last_rack_soh")


def _hourly(client, site_id, fill):
    response = client.get(
        f"/api/ess/operating-sites/{site_id}/banks/1/racks/1/stats/avg-rack-soc/",
        params={
            "time-bucket-width": "1 hour",
            "start-time": "2022-03-14T00:00:00+09:00",
            "end-time": "2022-03-14T08:00:00+09:00",
            **({"fill": fill} if fill else {}),
        },
    )
    assert response.status_code == 200, response.text
    return {datetime.fromisoformat(i["time"]).hour: i["avg_rack_soc"] for i in response.json()}


def test_fill_modes_for_the_empty_hours(site_with_rows, client):
    plain = _hourly(client, site_with_rows, None)
    assert sorted(plain) == [0, 1, 2, 5, 6, 7]  # 03:00 and 04:00 have no rows
    assert _hourly(client, site_with_rows, "none") == plain
    null = _hourly(client, site_with_rows, "null")
    assert null == {**plain, 3: None, 4: None}
    locf = _hourly(client, site_with_rows, "locf")
    assert locf == {**plain, 3: plain[2], 4: plain[2]}
    linear = _hourly(client, site_with_rows, "linear")
    step = (plain[5] - plain[2]) / 3
    assert linear[3] == pytest.approx(plain[2] + step)
    assert linear[4] == pytest.approx(plain[2] + 2 * step)


def test_a_late_row_is_reflected_after_refresh(pool, client):
    start = datetime(2022, 2, 10, 10, tzinfo=SEOUL)
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(1,))
        client.app.state.catalog = load_catalog(conn)
        conn.execute(
            "INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc) "
            "SELECT ts, %s, 1, 1, 50 FROM generate_series(%s::timestamptz, %s, '10 seconds') ts",
            (site_id, start, start + timedelta(hours=2) - timedelta(seconds=1)),
        )
        refresh_aggregates(conn, start, start + timedelta(hours=2))

    def averages():
        """The average of the bucket holding the late row, per level."""
        result = {}
        for width in ("1 minute", "1 hour", "1 day"):
            response = client.get(
                f"/api/ess/operating-sites/{site_id}/banks/1/racks/1/stats/avg-rack-soc/",
                params={"time-bucket-width": width, "date": "2022-02-10"},
            )
            assert response.status_code == 200, response.text
            assert response.headers["aggregate-source"] == f"ess.rack_1{width.split()[1][0]}"
            items = [i for i in response.json() if i["time"] <= "2022-02-10T11:00:05+09:00"]
            result[width] = items[-1]["avg_rack_soc"]
        return result

    assert averages() == {"1 minute": 50, "1 hour": 50, "1 day": 50}
    late = start + timedelta(hours=1, seconds=5)  # a backfilled row inside a refreshed window
    with pool.connection() as conn:
        conn.execute(
            "INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc) "
            "VALUES (%s, %s, 1, 1, 56)",
            (late, site_id),
        )
    # materialized buckets do not see it yet: that is why every load refreshes what it wrote
    assert averages() == {"1 minute": 50, "1 hour": 50, "1 day": 50}
    with pool.connection() as conn:
        refresh_aggregates(conn, late, late + timedelta(seconds=1))
    assert averages() == {
        "1 minute": pytest.approx((6 * 50 + 56) / 7),
        "1 hour": pytest.approx((360 * 50 + 56) / 361),
        "1 day": pytest.approx((720 * 50 + 56) / 721),
    }


# -- the planner (over the database's verdict on its levels) and the SQL builder


def _site(timezone: str = "Asia/Seoul") -> Site:
    rack_columns = ("rack_soc", "rack_soh", "rack_current", "rack_max_module_temperature")
    return Site(
        site_id=7,
        code="t",
        name="t",
        name_ko=None,
        timezone=timezone,
        topology={},
        data_since=None,
        retired_on=None,
        rack_counts={1: 9, 2: 8},
        columns={"rack": tuple(Column(c, "float", "double precision") for c in rack_columns)},
    )


def _request(
    width, start, end, metrics=(("avg", "rack_soc"),), timezone="Asia/Seoul", bank=1, rack=3
):
    return AggregateRequest(
        site=_site(timezone),
        component="rack",
        bank=bank,
        rack=rack,
        metrics=tuple(Metric(f, c) for f, c in metrics),
        width=width,
        start=start,
        end=end,
    )


def planned(pool, request: AggregateRequest):
    """The plan over the database's verdict on its levels for this request."""
    return plan(request, aggregate_levels(pool, request, stored_levels(pool)))


def _local(text: str, timezone: str = "Asia/Seoul") -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone))


@pytest.mark.parametrize(
    ("width", "start", "end", "timezone", "source"),
    [
        (timedelta(days=1), "2022-05-01", "2022-06-01", "Asia/Seoul", "ess.rack_1d"),
        (timedelta(days=7), "2022-05-02", "2022-06-27", "Asia/Seoul", "ess.rack_1d"),
        (timedelta(hours=1), "2022-05-01", "2022-06-01", "Asia/Seoul", "ess.rack_1h"),
        (timedelta(hours=6), "2022-05-01", "2022-05-02", "Asia/Seoul", "ess.rack_1h"),
        (timedelta(minutes=15), "2022-05-01", "2022-05-02", "Asia/Seoul", "ess.rack_1m"),
        (timedelta(hours=1), "2022-05-01T10:30", "2022-05-01T20:30", "Asia/Seoul", "ess.rack_1m"),
        (timedelta(seconds=90), "2022-05-01T10:00", "2022-05-01T12:00", "Asia/Seoul", "ess.rack"),
        (timedelta(minutes=1), "2022-05-01T10:00:30", "2022-05-01T12:00", "Asia/Seoul", "ess.rack"),
        # local days of other zones are not days of the +09 grid: hours are, across DST too
        (timedelta(days=1), "2022-05-01", "2022-06-01", "UTC", "ess.rack_1h"),
        (timedelta(days=1), "2022-03-01", "2022-04-30", "Europe/Berlin", "ess.rack_1h"),
        (timedelta(days=1), "2022-05-01", "2022-06-01", "Asia/Kolkata", "ess.rack_1m"),
    ],
)
def test_planner_picks_the_coarsest_exact_source(pool, width, start, end, timezone, source):
    request = _request(width, _local(start, timezone), _local(end, timezone), timezone=timezone)
    assert planned(pool, request).source == source


def test_planner_needs_raw_rows_for_functions_and_columns_the_levels_lack(pool):
    start, end = _local("2022-05-01"), _local("2022-05-02")
    hour = timedelta(hours=1)
    assert planned(pool, _request(hour, start, end, [("first", "rack_soc")])).source == "ess.rack"
    missing = [("avg", "rack_soc"), ("max", "rack_max_module_temperature")]
    assert planned(pool, _request(hour, start, end, missing)).source == "ess.rack"


@pytest.mark.parametrize(
    ("width", "start", "end", "metrics", "series", "parameter"),
    [
        # a year of minutes: too many buckets
        (
            timedelta(minutes=1),
            "2022-05-01",
            "2023-05-01",
            "avg:rack_soc",
            (1, 3),
            "time-bucket-width",
        ),
        # a year of hours for all 17 racks: too many values
        (
            timedelta(hours=1),
            "2022-05-01",
            "2023-05-01",
            "avg:rack_soc",
            (None, None),
            "time-bucket-width",
        ),
        # raw rows beyond the budget, and why they are needed
        (
            timedelta(seconds=90),
            "2022-05-01",
            "2022-05-09",
            "avg:rack_soc",
            (1, 3),
            "time-bucket-width",
        ),
        (timedelta(hours=1), "2022-05-01", "2022-05-31", "last:rack_soc", (1, 3), "metrics"),
        (
            timedelta(hours=1),
            "2022-05-01T00:00:30",
            "2022-05-31",
            "avg:rack_soc",
            (1, 3),
            "start-time",
        ),
        (
            timedelta(hours=1),
            "2022-05-01",
            "2022-05-31T12:00:05",
            "avg:rack_soc",
            (1, 3),
            "end-time",
        ),
    ],
)
def test_planner_bounds_the_work(pool, width, start, end, metrics, series, parameter):
    function, column = metrics.split(":")
    request = _request(
        width, _local(start), _local(end), [(function, column)], bank=series[0], rack=series[1]
    )
    with pytest.raises(ProblemError) as raised:
        planned(pool, request)
    assert raised.value.parameter == parameter
    assert raised.value.status_code == 400


def test_raw_row_budget_admits_a_week_of_one_rack(pool):
    request = _request(timedelta(seconds=90), _local("2022-05-01"), _local("2022-05-08"))
    assert RAW_ROW_BUDGET == 7 * 86_400 and planned(pool, request).level is None


def test_sql_reaggregates_sums_and_counts_and_wraps_fill(pool):
    request = _request(
        timedelta(hours=1),
        _local("2022-05-01"),
        _local("2022-05-02"),
        [("avg", "rack_soc"), ("count", "rack_soc"), ("max", "rack_current")],
    )
    text = build_query(planned(pool, request))[0].as_string()
    assert 'FROM "ess"."rack_1h"' in text
    assert '(sum("sum_rack_soc") / nullif(sum("n_rack_soc"), 0))::double precision' in text
    assert 'sum("n_rack_soc")::bigint AS "count_rack_soc"' in text
    assert 'max("max_rack_current") AS "max_rack_current"' in text
    assert 'time_bucket(%(width)s, "bucket", origin => %(origin)s)' in text
    filled = AggregateRequest(**{**request.__dict__, "fill": "linear", "rack": None})
    query, params = build_query(planned(pool, filled))
    text = query.as_string()
    assert "time_bucket_gapfill(" in text and 'interpolate((sum("sum_rack_soc")' in text
    assert '"rack_id"' in text and "rack_id = %(rack)s" not in text
    assert params["tz"] == "Asia/Seoul" and params["width"] == timedelta(hours=1)


def test_buckets_use_a_fixed_origin_unless_the_offset_changes_in_the_window(pool):
    seoul = planned(pool, _request(timedelta(hours=1), _local("2022-05-01"), _local("2022-05-02")))
    assert build_query(seoul)[1]["origin"].isoformat() == "2000-01-03T00:00:00+09:00"
    berlin = "Europe/Berlin"
    summer = _request(
        timedelta(days=1),
        _local("2022-06-01", berlin),
        _local("2022-07-01", berlin),
        timezone=berlin,
    )
    query, params = build_query(planned(pool, summer))
    assert params["origin"].isoformat() == "2000-01-03T00:00:00+02:00"
    across_dst = _request(
        timedelta(days=1),
        _local("2022-03-01", berlin),
        _local("2022-04-01", berlin),
        timezone=berlin,
    )
    query, params = build_query(planned(pool, across_dst))
    assert params["origin"] is None
    assert 'time_bucket(%(width)s, "bucket", timezone => %(tz)s)' in query.as_string()


# -- bad inputs


@pytest.mark.parametrize(
    ("params", "parameter", "status"),
    [
        ({"time-bucket-width": "1 fortnight"}, "time-bucket-width", 400),
        ({"time-bucket-width": "0 hours"}, "time-bucket-width", 400),
        (
            {"time-bucket-width": "1 second", "end-time": "2022-03-15T00:00"},
            "time-bucket-width",
            400,
        ),
        ({"metrics": "avg:rack_bogus"}, "metrics", 400),
        ({"metrics": "median:rack_soc"}, "metrics", 400),
        ({"metrics": "rack_soc"}, "metrics", 400),
        ({"metrics": "avg:rack_module_fault"}, "metrics", 400),  # a JSON column
        ({"end-time": "2022-03-13T00:00"}, "end-time", 400),
        ({"start-time": "yesterday"}, "start-time", 400),
        ({"end-time": None}, "end-time", 400),
        ({"fill": "spline"}, "fill", 400),
        ({"component": "inverter"}, "component", 400),
        ({"component": "pcs", "bank": "1", "metrics": "avg:ai_vdc"}, "bank", 400),
        ({"rack": "1", "bank": None}, "bank", 400),
        ({"bank": "5"}, "bank", 404),
        ({"rack": "9"}, "rack", 404),
        ({"bank": "one"}, "bank", 400),
    ],
)
def test_bad_inputs_are_problems_naming_the_parameter(
    site_with_rows, client, params, parameter, status
):
    query = {
        "component": "rack",
        "bank": "1",
        "rack": "1",
        "metrics": "avg:rack_soc",
        "time-bucket-width": "1 hour",
        "start-time": "2022-03-14T00:00",
        "end-time": "2022-03-16T00:00",
    }
    query.update(params)
    response = client.get(
        f"/api/ess/operating-sites/{site_with_rows}/aggregate/",
        params={k: v for k, v in query.items() if v is not None},
    )
    assert_problem(response, status, parameter)


def test_unknown_site_bank_and_rack_in_the_specification_urls(site_with_rows, client):
    window = {"start-time": "2022-03-14", "end-time": "2022-03-15"}
    for path, parameter in (
        ("/api/ess/operating-sites/777/banks/1/stats/avg-bank-soc/", "site"),
        (f"/api/ess/operating-sites/{site_with_rows}/banks/3/stats/avg-bank-power/", "bank"),
        (f"/api/ess/operating-sites/{site_with_rows}/banks/1/racks/3/stats/avg-rack-soh/", "rack"),
    ):
        assert_problem(client.get(path, params=window), 404, parameter)
