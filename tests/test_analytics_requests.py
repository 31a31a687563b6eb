"""What every analytics route family shares: unknown and repeated query parameters are 400s
naming them (as on the operating-data endpoints), rows are decoded by column name in the
site's zone, and the one rule of which continuous aggregate answers a request (SQL) is right
across a change of UTC offset inside the window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from api.db import fetch
from api.refresh import refresh_aggregates
from tests.helpers import assert_problem, create_scratch_site

WINDOW = {"start-time": "2023-04-10T00:00:00", "end-time": "2023-04-10T01:00:00"}
DAYS = {"start-date": "2023-04-10", "end-date": "2023-04-11"}
# one URL of each analytics family on reference site 2, with valid parameters
ENDPOINTS = [
    (
        "/api/ess/operating-sites/2/aggregate/",
        {"component": "rack", "bank": "1", "rack": "1", "metrics": "avg:rack_soc", **WINDOW},
    ),
    ("/api/ess/operating-sites/2/banks/1/stats/avg-bank-soc/", WINDOW),
    ("/api/ess/operating-sites/2/banks/1/racks/1/stats/avg-rack-soh/", WINDOW),
    ("/api/ess/stats/sos/operating-sites/2/banks/1/racks/1/", WINDOW),
    ("/api/ess/stats/ex-sos/operating-sites/2/banks/", WINDOW),
    ("/api/ess/stats/socp/operating-sites/2/banks/1/racks/1/", {"period": "1"}),
    ("/api/ess/stats/forecasting-sol/operating-sites/2/banks/1/", DAYS),
    ("/api/ess/stats/forecasting-sol-detail/operating-sites/2/banks/1/", DAYS),
    ("/api/ess-feature/protectionmap/operating-sites/2/", WINDOW),
    ("/api/ess-feature/protectionmap/operating-sites/2/stats/log-level-count/", WINDOW),
    ("/api/ess/operating-sites/2/completeness/", DAYS),
]


@pytest.mark.parametrize(("path", "params"), ENDPOINTS)
def test_unknown_parameters_are_refused_by_name(client, path, params):
    assert client.get(path, params=params).status_code == 200
    body = assert_problem(client.get(path, params={**params, "strat-time": "x"}), 400, "strat-time")
    assert "unknown parameter" in body["detail"]
    # a parameter of another family is unknown here too
    other = "fit-days" if "forecasting-sol" not in path else "time-bucket-width"
    assert_problem(client.get(path, params={**params, other: "1"}), 400, other)


@pytest.mark.parametrize(("path", "params"), ENDPOINTS)
def test_repeated_parameters_are_refused_by_name(client, path, params):
    name, value = next(iter(params.items()))
    query = [*params.items(), (name, value)]
    assert_problem(client.get(path, params=query), 400, name)


class Row(msgspec.Struct):
    time: datetime
    n: int
    kind: str = msgspec.field(name="class")


def test_rows_are_decoded_by_column_name_in_the_given_zone(pool):
    seoul = ZoneInfo("Asia/Seoul")
    statement = (
        "SELECT 'warning' AS class, %(n)s::integer AS n, "
        "timestamptz '2023-04-10 00:00:00+00' AS time, 'ignored' AS extra",
        {"n": 7},
    )
    (row,) = fetch(pool, statement, Row, seoul)
    assert row == Row(datetime(2023, 4, 10, 9, tzinfo=seoul), 7, "warning")
    assert row.time.isoformat() == "2023-04-10T09:00:00+09:00"
    with pytest.raises(msgspec.ValidationError, match="missing required field `n`"):
        fetch(pool, ("SELECT 'safe' AS class, now() AS time", {}), Row)


# -- a window whose ends share an offset while its middle has another

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # +11 in summer, +10:30 in winter
SUMMER_TO_SUMMER = (
    datetime(2020, 12, 1, tzinfo=LORD_HOWE),
    datetime(2021, 12, 1, tzinfo=LORD_HOWE),
)
SUMMER_ONLY = (datetime(2020, 12, 1, tzinfo=LORD_HOWE), datetime(2021, 2, 1, tzinfo=LORD_HOWE))
# 13:30 UTC: inside an hour bucket. Before the other tests' rows: refreshing moves the
# aggregates' watermark, and rows stored below it without a refresh would not be seen.
WINTER_MIDNIGHT = datetime(2021, 6, 16, tzinfo=LORD_HOWE)


def test_the_rule_sees_the_offsets_between_the_windows_ends(conn):
    """The hour grid holds the local days of +11 but not those of +10:30: a window from summer
    to summer spans a winter, so its days cannot be read from the hour aggregate."""
    question = (
        "SELECT ess.aggregate_serves('rack_1h', '1 day', %(start)s, %(end)s, %(tz)s), "
        "ess.aggregate_serves('rack_1m', '1 day', %(start)s, %(end)s, %(tz)s), "
        "ess.fixed_bucket_origin(%(tz)s, '1 day', %(start)s, %(end)s)"
    )
    for (start, end), expected in (
        (SUMMER_TO_SUMMER, (False, True, None)),
        (SUMMER_ONLY, (True, True, datetime(2000, 1, 3, tzinfo=timezone(timedelta(hours=11))))),
    ):
        answer = conn.execute(question, {"start": start, "end": end, "tz": LORD_HOWE.key})
        assert answer.fetchone() == expected


@pytest.fixture(scope="module")
def lord_howe_site(pool) -> int:
    """SoC 10 in the last 20 minutes of a winter day, 90 in the first 20 of the next."""
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, rack_counts=(1,), timezone=LORD_HOWE.key)
        conn.execute(
            "INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc) "
            "SELECT ts, %(site)s, 1, 1, CASE WHEN ts < %(midnight)s THEN 10 ELSE 90 END "
            "FROM generate_series(%(midnight)s::timestamptz - interval '20 minutes', "
            "%(midnight)s::timestamptz + interval '20 minutes' - interval '10 seconds', "
            "interval '10 seconds') AS ts",
            {"site": site_id, "midnight": WINTER_MIDNIGHT},
        )
        refresh_aggregates(
            conn, WINTER_MIDNIGHT - timedelta(days=1), WINTER_MIDNIGHT + timedelta(days=1)
        )
    return site_id


def test_local_days_across_an_offset_change_come_from_a_level_that_holds_them(
    lord_howe_site, client
):
    response = client.get(
        f"/api/ess/operating-sites/{lord_howe_site}/aggregate/",
        params={
            "component": "rack",
            "bank": "1",
            "rack": "1",
            "metrics": "avg:rack_soc",
            "time-bucket-width": "1day",
            "start-time": "2020-12-01",
            "end-time": "2021-12-01",
        },
    )
    assert response.status_code == 200, response.text
    # the hour aggregate would put 13:00-14:00 UTC, across local midnight, into one day
    assert response.headers["Aggregate-Source"] == "ess.rack_1m"
    assert response.json() == [
        {"time": "2021-06-15T00:00:00+10:30", "avg_rack_soc": 10.0},
        {"time": "2021-06-16T00:00:00+10:30", "avg_rack_soc": 90.0},
    ]


def test_the_schema_documents_each_familys_parameters(client):
    paths = client.get("/schema/openapi.json").json()["paths"]

    def names(path: str) -> set[str]:
        return {p["name"] for p in paths[path]["get"].get("parameters", []) if p["in"] == "query"}

    window = {"start-time", "end-time", "date"}
    assert names("/api/ess/operating-sites/{site}/aggregate") >= {
        *window,
        "component",
        "metrics",
        "bank",
        "rack",
        "time-bucket-width",
        "fill",
    }
    sos = "/api/ess/stats/sos/operating-sites/{site}/banks/{bank}/racks/{rack}"
    assert names(sos) == {*window, "time-bucket-width"}
    assert names("/api/ess/stats/forecasting-sol/operating-sites/{site}/banks") == {
        "start-date",
        "end-date",
        "fit-days",
    }
    counts = "/api/ess-feature/protectionmap/operating-sites/{site}/stats/log-level-count"
    assert names(counts) == {*window, "max-gap", "time-bucket-width"}
