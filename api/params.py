"""Parsing of the query parameters shared by every endpoint: times, windows, bucket widths,
field lists. Each parser names the parameter in its 400 problem (see api.errors)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.errors import bad_parameter


def parse_time(value: str, site_tz: tzinfo, parameter: str) -> datetime:
    """ISO 8601 with an offset or Z; without an offset the time is the site's local time.
    A bare date means local midnight of that day."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad_parameter(
            parameter,
            f"{value!r} is not an ISO 8601 time (e.g. 2022-05-10T09:00:00+09:00, "
            "2022-05-10T00:00:00Z, or 2022-05-10T09:00:00 in the site's local time)",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=site_tz)
    return parsed


def parse_date(value: str, parameter: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise bad_parameter(parameter, f"{value!r} is not a date (YYYY-MM-DD)") from None


def local_midnight(day: date, site_tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=site_tz)


def parse_timezone(value: str | None, default: str, parameter: str = "tz") -> ZoneInfo:
    name = value or default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise bad_parameter(parameter, f"{name!r} is not an IANA time zone name") from None


@dataclass(frozen=True)
class Window:
    """A half-open time window [start, end); either bound may be open (None)."""

    start: datetime | None
    end: datetime | None

    @property
    def bounded(self) -> bool:
        return self.start is not None and self.end is not None


def parse_window(
    start_time: str | None,
    end_time: str | None,
    day: str | None,
    site_tz: tzinfo,
    *,
    require_bounds: bool = False,
    max_span: timedelta | None = None,
) -> Window:
    """start-time/end-time, or date=YYYY-MM-DD for one local day (not both)."""
    if day is not None:
        if start_time is not None or end_time is not None:
            raise bad_parameter("date", "give either date or start-time/end-time, not both")
        start = local_midnight(parse_date(day, "date"), site_tz)
        # local midnight to local midnight: 23 or 25 hours on a DST change day
        next_day = local_midnight(start.date() + timedelta(days=1), site_tz)
        return Window(start, next_day)
    start = parse_time(start_time, site_tz, "start-time") if start_time is not None else None
    end = parse_time(end_time, site_tz, "end-time") if end_time is not None else None
    if start is not None and end is not None and start >= end:
        raise bad_parameter(
            "end-time", f"end-time {end_time} must be after start-time {start_time}"
        )
    if require_bounds and (start is None or end is None):
        missing = "start-time" if start is None else "end-time"
        raise bad_parameter(
            missing, "this request needs a bounded window: give start-time and end-time (or date)"
        )
    if max_span is not None and start is not None and end is not None and end - start > max_span:
        raise bad_parameter(
            "end-time",
            f"the window may span at most {max_span}; split the request into smaller windows",
        )
    return Window(start, end)


_UNITS = {
    "s": "seconds",
    "sec": "seconds",
    "secs": "seconds",
    "second": "seconds",
    "seconds": "seconds",
    "m": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "minute": "minutes",
    "minutes": "minutes",
    "h": "hours",
    "hour": "hours",
    "hours": "hours",
    "d": "days",
    "day": "days",
    "days": "days",
    "w": "weeks",
    "week": "weeks",
    "weeks": "weeks",
}
_PLAIN = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$", re.IGNORECASE)
_ISO = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$",
    re.IGNORECASE,
)


def parse_duration(value: str, parameter: str) -> timedelta:
    """`1hour`, `1 hour`, `15 minutes`, `1day`, `30s` or an ISO 8601 duration (`PT1H`, `P1D`)."""
    text = value.strip()
    width: timedelta | None = None
    if plain := _PLAIN.match(text):
        unit = _UNITS.get(plain.group(2).lower())
        if unit:
            width = timedelta(**{unit: int(plain.group(1))})
    elif (iso := _ISO.match(text)) and text.upper() not in ("P", "PT"):
        width = timedelta(**{k: int(v) for k, v in iso.groupdict().items() if v})
    if width is None:
        raise bad_parameter(
            parameter, f"{value!r} is not a duration (e.g. 1hour, 15 minutes, 1day, PT1H, P1D)"
        )
    if width <= timedelta(0):
        raise bad_parameter(parameter, "the duration must be positive")
    return width


def parse_name_list(
    value: str | None, parameter: str, allowed: tuple[str, ...]
) -> list[str] | None:
    """A comma-separated list of names, each one of `allowed` (error lists the valid names)."""
    if value is None:
        return None
    names = [n.strip().lower() for n in value.split(",") if n.strip()]
    if not names:
        raise bad_parameter(parameter, "give at least one name")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise bad_parameter(
            parameter,
            f"unknown name(s) {', '.join(unknown)}; valid names are: {', '.join(allowed)}",
        )
    return list(dict.fromkeys(names))
