from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.errors import ProblemError
from api.params import (
    parse_day_range,
    parse_duration,
    parse_int,
    parse_name_list,
    parse_time,
    parse_window,
    query_values,
)
from tests.helpers import SEOUL


def test_naive_time_is_site_local_and_equals_the_offset_form():
    naive = parse_time("2022-05-10T09:00:00", SEOUL, "start-time")
    assert naive == parse_time("2022-05-10T09:00:00+09:00", SEOUL, "start-time")
    assert naive == parse_time("2022-05-10T00:00:00Z", SEOUL, "start-time")
    assert naive.astimezone(UTC) == datetime(2022, 5, 10, 0, tzinfo=UTC)


def test_date_window_is_a_local_day():
    window = parse_window(None, None, "2022-05-10", SEOUL)
    assert window.start.isoformat() == "2022-05-10T00:00:00+09:00"
    assert window.end - window.start == timedelta(days=1)


def test_dst_day_is_23_hours_in_a_dst_zone():
    window = parse_window(None, None, "2024-03-31", ZoneInfo("Europe/Berlin"))
    assert (window.end.astimezone(UTC) - window.start.astimezone(UTC)) == timedelta(hours=23)


@pytest.mark.parametrize(
    ("start", "end", "day", "parameter"),
    [
        ("yesterday", None, None, "start-time"),
        (None, "2022-13-01T00:00:00", None, "end-time"),
        ("2022-05-11T00:00:00", "2022-05-10T00:00:00", None, "end-time"),
        ("2022-05-10T00:00:00", "2022-05-10T00:00:00", None, "end-time"),
        (None, None, "2022-02-30", "date"),
        ("2022-05-10T00:00:00", None, "2022-05-10", "date"),
    ],
)
def test_bad_windows_name_the_parameter(start, end, day, parameter):
    with pytest.raises(ProblemError) as err:
        parse_window(start, end, day, SEOUL)
    assert err.value.status_code == 400
    assert err.value.parameter == parameter


def test_unbounded_window_refused_when_bounds_are_required():
    with pytest.raises(ProblemError) as err:
        parse_window("2022-05-10T00:00:00", None, None, SEOUL, require_bounds=True)
    assert err.value.parameter == "end-time"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1hour", timedelta(hours=1)),
        ("1 hour", timedelta(hours=1)),
        ("15 minutes", timedelta(minutes=15)),
        ("1day", timedelta(days=1)),
        ("30s", timedelta(seconds=30)),
        ("PT1H", timedelta(hours=1)),
        ("PT15M", timedelta(minutes=15)),
        ("P1D", timedelta(days=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text, "time-bucket-width") == expected


@pytest.mark.parametrize("text", ["", "hour", "0 minutes", "PT", "1 fortnight", "-1h", "P1Y"])
def test_bad_durations(text):
    with pytest.raises(ProblemError) as err:
        parse_duration(text, "time-bucket-width")
    assert err.value.parameter == "time-bucket-width"


def test_name_list_validation_lists_valid_names():
    assert parse_name_list("B, a,b", "fields", ("a", "b", "c")) == ["b", "a"]
    with pytest.raises(ProblemError) as err:
        parse_name_list("a,zz", "fields", ("a", "b"))
    assert "zz" in err.value.detail and "a, b" in err.value.detail


def _refused(parse, parameter: str) -> str:
    with pytest.raises(ProblemError) as err:
        parse()
    assert err.value.parameter == parameter and err.value.status_code == 400
    return err.value.detail


def test_query_values_refuse_unknown_and_repeated_parameters():
    allowed = ("start-time", "end-time")
    assert query_values([("start-time", "a")], allowed) == {"start-time": "a"}
    detail = _refused(lambda: query_values([("strat-time", "a")], allowed), "strat-time")
    assert "start-time, end-time" in detail
    _refused(lambda: query_values([("end-time", "a"), ("end-time", "b")], allowed), "end-time")


def test_whole_numbers_within_bounds():
    assert parse_int(None, "page", 1) is None
    assert parse_int("7", "fit-days", 7, 730) == 7
    assert parse_int("0", "bank") == 0
    assert "whole number" in _refused(lambda: parse_int("one", "bank"), "bank")
    assert "1 or more" in _refused(lambda: parse_int("0", "page", minimum=1), "page")
    assert "from 7 to 730" in _refused(lambda: parse_int("731", "fit-days", 7, 730), "fit-days")


def test_day_ranges_include_both_days():
    first, last = parse_day_range("2023-04-10", None, max_days=366, end_required=False)
    assert first == last == date(2023, 4, 10)
    assert parse_day_range("2023-01-01", "2023-12-31", max_days=365)[1] == date(2023, 12, 31)
    _refused(lambda: parse_day_range("2023-01-01", "2024-01-01", max_days=365), "end-date")
    _refused(lambda: parse_day_range("2023-01-01", None, max_days=365), "end-date")
    _refused(lambda: parse_day_range(None, "2023-01-01", max_days=365), "start-date")
    _refused(lambda: parse_day_range("2023-01-02", "2023-01-01", max_days=365), "end-date")
