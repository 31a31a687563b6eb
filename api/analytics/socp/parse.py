"""Parse and plan of SoCP: the window (date, start-time/end-time, or `period` days ending at
end-time), the charge status, and the rack-days budget (SoCP reads every raw row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.analytics.series import Series
from api.errors import bad_parameter
from api.params import WINDOW, local_midnight, parse_choice, parse_time, window_of

SOCP_PARAMETERS = (*WINDOW, "period", "charge-status")
PERIODS = (1, 7, 30)
CHARGE_STATUSES = ("charge", "discharge", "rest")
MAX_SPAN = timedelta(days=31)
# SoCP reads every raw row (cell positions are not aggregated): bound racks x days. 80 covers
# one rack over 30 days and any bank of the reference sites (up to 11 racks) over 7 days.
MAX_RACK_DAYS = 80


@dataclass(frozen=True)
class SoCPWindow:
    start: datetime
    end: datetime
    parameter: str  # the one that set the window's length, named if it is too long

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)


@dataclass(frozen=True)
class SoCPRequest:
    series: Series
    window: SoCPWindow
    charge_status: str | None


def parse_socp_window(values: dict[str, str], tz: ZoneInfo, today: datetime) -> SoCPWindow:
    """date (that local day, from its midnight to the next), start-time/end-time, or `period`
    days (1, 7 or 30; default 1) ending at end-time (default: the start of the site's current
    local day, i.e. the last complete days)."""
    period = values.get("period")
    if values.get("date") is not None:
        if period is not None:
            raise bad_parameter("date", "give either date or period, not both")
        # date with start-time or end-time: a 400 naming date
        window = window_of(values, tz)
        assert window.start is not None and window.end is not None
        return SoCPWindow(window.start, window.end, "date")
    if values.get("start-time") is not None:
        if period is not None:
            raise bad_parameter("period", "give either period or start-time, not both")
        window = window_of(values, tz, require_bounds=True)
        assert window.start is not None and window.end is not None
        found = SoCPWindow(window.start, window.end, "end-time")
        if found.end - found.start > MAX_SPAN:
            raise bad_parameter("end-time", f"the window may span at most {MAX_SPAN.days} days")
        return found
    days = 1
    if period is not None:
        if period.strip() not in {str(p) for p in PERIODS}:
            raise bad_parameter("period", f"{period!r} is not one of {PERIODS} (days)")
        days = int(period)
    if (end_time := values.get("end-time")) is not None:
        end = parse_time(end_time, tz, "end-time")
    else:
        end = local_midnight(today.astimezone(tz).date(), tz)
    return SoCPWindow(end - timedelta(days=days), end, "period")


def plan_socp(series: Series, values: dict[str, str], today: datetime) -> SoCPRequest:
    window = parse_socp_window(values, series.tz, today)
    rack_days = series.rack_count() * window.days
    if rack_days > MAX_RACK_DAYS:
        raise bad_parameter(
            window.parameter,
            f"{series.rack_count()} racks x {window.days:g} days exceed {MAX_RACK_DAYS} "
            "rack-days per request (SoCP reads every 1 Hz row): ask for one rack at a time "
            "or a shorter period",
        )
    status = parse_choice(values.get("charge-status"), "charge-status", CHARGE_STATUSES)
    return SoCPRequest(series, window, status)
