"""Parse step: the query of a forecast URL -> the window, the step between issue times and the
output zone; unknown parameters are refused (400 naming them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.errors import bad_parameter
from api.forecasting.targets import HOUR, MINUTE, Target
from api.operating_data.parse import query_values
from api.params import parse_duration, parse_timezone, parse_window

PARAMETERS = ("start-time", "end-time", "date", "tz", "time-bucket-width")
# a window reads the day before it too (the seasonal-naive value): bounded like the indicators
MAX_SPAN = timedelta(days=31)


@dataclass(frozen=True)
class ForecastArgs:
    start: datetime
    end: datetime
    step: timedelta
    tz: ZoneInfo


def parse_forecast_args(
    pairs: Iterable[tuple[str, str]], target: Target, site_tz: str
) -> ForecastArgs:
    values = query_values(pairs, PARAMETERS)
    window = parse_window(
        values.get("start-time"),
        values.get("end-time"),
        values.get("date"),
        ZoneInfo(site_tz),
        require_bounds=True,
        max_span=MAX_SPAN,
    )
    assert window.start is not None and window.end is not None
    width = values.get("time-bucket-width")
    step = parse_duration(width, "time-bucket-width") if width else target.default_step
    grid = HOUR if target.day_ahead else MINUTE
    if step % grid:
        unit = "hours" if target.day_ahead else "minutes"
        raise bad_parameter("time-bucket-width", f"issue times are whole {unit} apart")
    return ForecastArgs(window.start, window.end, step, parse_timezone(values.get("tz"), site_tz))
