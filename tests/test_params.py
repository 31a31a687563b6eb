from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.errors import ProblemError
from api.params import parse_duration, parse_name_list, parse_time, parse_window
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
