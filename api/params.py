"""The query parameters every route family shares, declared once: how each is parsed (a 400
problem naming it, see api.errors) and how it is documented (OpenAPI). Lowest layer: imports
nothing of the API but api.errors.

Every route family (api/operating_data, api/analytics/*) goes parse -> plan -> SQL -> respond.
A new family, e.g. `api/analytics/forecast/`, needs no change here or in api/db.py:

- parse.py   `values = query_of(request, ALLOWED)` (unknown or repeated parameters are a 400
             naming them), then the shared parsers: `window_of(values, tz, ...)`,
             `parse_int(values.get("page"), "page", minimum=1)`, `parse_day_range(...)`,
             `parse_duration(...)`; returns a frozen dataclass of typed arguments.
- plan.py    pure checks and choices over the parsed arguments and the catalog (work bounds).
- sql.py     the statement (text from a .sql file next to it, `sql_text(__file__, "x.sql")`,
             values as named parameters) and a msgspec Struct per result row, its fields
             named as the columns.
- respond.py rows -> the answer's Structs (site-local times, nesting, links).
- routes.py  a Controller whose handlers are a few lines: parse, plan,
             `api.db.fetch(pool, statement, Row, tz)` (the only code holding a connection),
             respond; `parameters=` documents the query parameters from the *_DOCS below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from litestar import Request
from litestar.openapi.spec import Example
from litestar.params import QueryParameter

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


# -- the query string as a whole


def query_values(pairs: Iterable[tuple[str, str]], allowed: Iterable[str]) -> dict[str, str]:
    """name -> value, refusing unknown parameters (a misspelt `feilds` or `strat-time` would
    otherwise be ignored silently) and repeated ones."""
    allowed = tuple(allowed)
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise bad_parameter(
                name, f"unknown parameter; this endpoint takes {', '.join(allowed)}"
            )
        if name in values:
            raise bad_parameter(name, "give this parameter once")
        values[name] = value
    return values


def query_of(request: Request, allowed: Iterable[str]) -> dict[str, str]:
    return query_values(request.query_params.multi_items(), allowed)


WINDOW = ("start-time", "end-time", "date")


def window_of(
    values: dict[str, str],
    site_tz: tzinfo,
    *,
    require_bounds: bool = False,
    max_span: timedelta | None = None,
) -> Window:
    """The WINDOW parameters of a query (see parse_window)."""
    return parse_window(
        values.get("start-time"),
        values.get("end-time"),
        values.get("date"),
        site_tz,
        require_bounds=require_bounds,
        max_span=max_span,
    )


# -- numbers and days


def parse_int(
    value: str | None, parameter: str, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """A whole number within [minimum, maximum]; None when absent."""
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_parameter(parameter, f"{value!r} is not a whole number") from None
    if minimum is not None and maximum is not None and not minimum <= number <= maximum:
        raise bad_parameter(parameter, f"give a number from {minimum} to {maximum}")
    if minimum is not None and number < minimum:
        raise bad_parameter(parameter, f"must be {minimum} or more")
    if maximum is not None and number > maximum:
        raise bad_parameter(parameter, f"must be at most {maximum}")
    return number


def parse_day_range(
    start_date: str | None,
    end_date: str | None,
    *,
    max_days: int,
    end_required: bool = True,
    end_excluded: bool = False,
) -> tuple[date, date]:
    """start-date and end-date (both included, or end-date excluded if `end_excluded`;
    end-date defaults to start-date unless required), at most `max_days` days. Returns the
    first and the last day included."""
    if start_date is None:
        raise bad_parameter("start-date", "give the first local day (YYYY-MM-DD)")
    if end_date is None and end_required:
        which = "the day after the last local day" if end_excluded else "the last local day"
        raise bad_parameter("end-date", f"give {which} (YYYY-MM-DD)")
    first = parse_date(start_date, "start-date")
    last = parse_date(end_date, "end-date") if end_date is not None else first
    if end_excluded and end_date is not None:
        if last <= first:
            raise bad_parameter(
                "end-date", f"end-date {last} is excluded: give a day after start-date {first}"
            )
        last -= timedelta(days=1)
    if last < first:
        raise bad_parameter("end-date", f"end-date {last} is before start-date {first}")
    if (last - first).days + 1 > max_days:
        raise bad_parameter("end-date", f"at most {max_days} days per request")
    return first, last


def parse_choice(value: str | None, parameter: str, choices: tuple[str, ...]) -> str | None:
    """One of `choices` (case-insensitive); None when absent."""
    if value is None:
        return None
    choice = value.strip().lower()
    if choice not in choices:
        raise bad_parameter(parameter, f"{value!r} is not one of {', '.join(choices)}")
    return choice


# -- OpenAPI: each shared query parameter documented once (a route passes them as
# `parameters=`; the values themselves are read by the parse step, never injected)


def query_doc(name: str, description: str, example: object, value_type: object = str | None):
    return QueryParameter(
        name=name,
        annotation=value_type,
        required=False,
        description=description,
        examples=[Example(value=example)],
    )


WINDOW_DOCS = {
    "start_time": query_doc(
        "start-time",
        "Start of the half-open window [start-time, end-time): ISO 8601 with an offset or Z, "
        "or without one meaning the site's local time. Missing, where the endpoint allows an "
        "open window: from the first row.",
        "2022-05-10T10:00:00",
    ),
    "end_time": query_doc(
        "end-time",
        "End of the window (excluded), same format. Missing, where allowed: until now.",
        "2022-05-10T12:00:00+09:00",
    ),
    "date": query_doc(
        "date",
        "One local day of the site (YYYY-MM-DD), from its midnight to the next, instead of "
        "start-time/end-time.",
        "2022-05-10",
    ),
}
DAY_RANGE_DOCS = {
    "start_date": query_doc("start-date", "First local day, YYYY-MM-DD", "2023-04-10"),
    "end_date": query_doc("end-date", "Last local day (included), YYYY-MM-DD", "2023-04-16"),
}
HALF_OPEN_DAY_RANGE_DOCS = {
    **DAY_RANGE_DOCS,
    "end_date": query_doc(
        "end-date", "The day after the last local day (excluded), YYYY-MM-DD", "2023-04-17"
    ),
}
PAGE_DOCS = {
    "page": query_doc("page", "Page number (1-based).", 2),
    "page_size": query_doc("page_size", "Rows per page.", 100),
}


def bucket_width_doc(default: str, note: str = "") -> dict[str, object]:
    return {
        "time_bucket_width": query_doc(
            "time-bucket-width",
            f"Bucket width: 1hour, 1 hour, 15 minutes, 1day, 30s, PT1H (default {default}). "
            "Buckets are the site's local buckets." + note,
            "1 hour",
        )
    }
