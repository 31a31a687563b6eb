"""Parse and plan of SoCP: the days asked for, the period each day closes, the operating state,
and the rack-days budget (SoCP reads every raw row).

As the earlier service stored it, a SoCP item is computed for a day D and a period of P days:
the P local days ending with D, i.e. [D + 1 - P, D + 1). `time` is D (the start of the
period's last day). start-time/end-time choose the days D whose local midnight lies in
[start-time, end-time); date chooses one day; without either, D is the last complete local day
before end-time (default: yesterday)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from api.analytics.series import Series
from api.errors import bad_parameter
from api.params import WINDOW, local_midnight, parse_choice, parse_int, parse_time, window_of

SOCP_PARAMETERS = (*WINDOW, "period", "charge_status", "charge-status")
PERIODS = (1, 7, 30)
# the earlier service's integer codes, by position
CHARGE_STATUSES = ("charge", "discharge", "rest")
MAX_DAYS = 31
# SoCP reads every raw row (cell positions are not aggregated): bound racks x period x days.
# 80 covers one rack over 30 days and any bank of the reference sites (up to 11 racks) over 7.
MAX_RACK_DAYS = 80


@dataclass(frozen=True)
class SoCPDay:
    """Day D and the window of its period, [D + 1 - period, D + 1) in local days."""

    day: datetime
    start: datetime
    end: datetime


@dataclass(frozen=True)
class SoCPRequest:
    series: Series
    period: int
    days: list[SoCPDay]
    charge_status: str | None


def parse_period(values: dict[str, str]) -> int:
    period = values.get("period")
    if period is None:
        return 1
    if period.strip() not in {str(p) for p in PERIODS}:
        raise bad_parameter("period", f"{period!r} is not one of {PERIODS} (days)")
    return int(period)


def parse_charge_status(values: dict[str, str]) -> str | None:
    """charge_status (the earlier service's 0 charge, 1 discharge, 2 rest) or charge-status
    (the names); both may be given only when they mean the same."""
    code = parse_int(values.get("charge_status"), "charge_status", 0, len(CHARGE_STATUSES) - 1)
    name = parse_choice(values.get("charge-status"), "charge-status", CHARGE_STATUSES)
    by_code = None if code is None else CHARGE_STATUSES[code]
    if by_code is not None and name is not None and by_code != name:
        raise bad_parameter(
            "charge_status",
            f"charge_status={code} ({by_code}) and charge-status={name} disagree: give one",
        )
    return by_code or name


def local_days(first: date, last: date) -> list[date]:
    """The local days from first to last, both included (none when last < first)."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def parse_days(values: dict[str, str], tz: ZoneInfo, now: datetime) -> tuple[list[date], str]:
    """The days D asked for and the parameter that chose them (named if there are too many)."""
    if values.get("date") is not None:
        # date with start-time or end-time: a 400 naming date
        window = window_of(values, tz)
        assert window.start is not None
        return [window.start.date()], "date"
    if values.get("start-time") is not None:
        window = window_of(values, tz, require_bounds=True)
        assert window.start is not None and window.end is not None
        start, end = window.start.astimezone(tz), window.end.astimezone(tz)
        # the local midnights in [start, end)
        first = start.date() + timedelta(days=local_midnight(start.date(), tz) < start)
        last = (end - timedelta(microseconds=1)).date()
        days = local_days(first, last)
        if len(days) > MAX_DAYS:
            raise bad_parameter("end-time", f"at most {MAX_DAYS} days per request")
        return days, "end-time"
    end_time = values.get("end-time")
    end = parse_time(end_time, tz, "end-time") if end_time is not None else now
    # the last day that ended at or before `end`
    return [end.astimezone(tz).date() - timedelta(days=1)], "end-time"


def plan_socp(series: Series, values: dict[str, str], now: datetime) -> SoCPRequest:
    tz = series.tz
    period = parse_period(values)
    days, days_parameter = parse_days(values, tz, now)
    rack_days = series.rack_count() * period * len(days)
    if rack_days > MAX_RACK_DAYS:
        parameter = "period" if len(days) == 1 else days_parameter
        raise bad_parameter(
            parameter,
            f"{series.rack_count()} racks x {period} days x {len(days)} periods exceed "
            f"{MAX_RACK_DAYS} rack-days per request (SoCP reads every 1 Hz row): ask for one "
            "rack at a time, a shorter period or fewer days",
        )
    periods = [
        SoCPDay(
            local_midnight(day, tz),
            local_midnight(day + timedelta(days=1 - period), tz),
            local_midnight(day + timedelta(days=1), tz),
        )
        for day in days
    ]
    return SoCPRequest(series, period, periods, parse_charge_status(values))
