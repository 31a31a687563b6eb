"""SoCP (State of Cell Position): which cell positions are reported as a rack's highest and
lowest cell voltage, per operating state and SoC decile, over a period of 1, 7 or 30 days; one
call of ess.rack_socp (sql/functions/socp.sql), grouped into the specification's items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

import msgspec
import psycopg

from api.analytics.indicator_request import Series, WindowQuery, local
from api.errors import bad_parameter
from api.params import local_midnight, parse_time, parse_window

PERIODS = (1, 7, 30)
CHARGE_STATUSES = ("charge", "discharge", "rest")
MAX_SPAN = timedelta(days=31)
# SoCP reads every raw row (cell positions are not aggregated): bound racks x days. 80 covers
# one rack over 30 days and any bank of the reference sites (up to 11 racks) over 7 days.
MAX_RACK_DAYS = 80
SOCP_SQL = """
SELECT * FROM ess.rack_socp(%(site)s, %(bank)s, %(rack)s, %(start)s, %(end)s)
WHERE %(status)s::text IS NULL OR charge_status = %(status)s
ORDER BY bank_id, rack_id, charge_status, soc_range, extreme, appearances DESC, cell_position
"""


@dataclass(frozen=True)
class SoCPWindow:
    start: datetime
    end: datetime
    parameter: str  # the one that set the window's length, named if it is too long

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)


def parse_socp_window(
    period: str | None, query: WindowQuery, tz: ZoneInfo, today: datetime
) -> SoCPWindow:
    """date (that local day, from its midnight to the next), start-time/end-time, or `period`
    days (1, 7 or 30; default 1) ending at end-time (default: the start of the site's current
    local day, i.e. the last complete days)."""
    if query.day is not None:
        if period is not None:
            raise bad_parameter("date", "give either date or period, not both")
        # date with start-time or end-time: a 400 naming date
        window = parse_window(query.start_time, query.end_time, query.day, tz)
        assert window.start is not None and window.end is not None
        return SoCPWindow(window.start, window.end, "date")
    if query.start_time is not None:
        if period is not None:
            raise bad_parameter("period", "give either period or start-time, not both")
        window = parse_window(query.start_time, query.end_time, None, tz, require_bounds=True)
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
    if query.end_time is not None:
        end = parse_time(query.end_time, tz, "end-time")
    else:
        end = local_midnight(today.astimezone(tz).date(), tz)
    return SoCPWindow(end - timedelta(days=days), end, "period")


def parse_charge_status(value: str | None) -> str | None:
    if value is None:
        return None
    status = value.strip().lower()
    if status not in CHARGE_STATUSES:
        raise bad_parameter(
            "charge-status", f"{value!r} is not one of {', '.join(CHARGE_STATUSES)}"
        )
    return status


def check_budget(series: Series, window: SoCPWindow) -> None:
    rack_days = series.rack_count() * window.days
    if rack_days > MAX_RACK_DAYS:
        raise bad_parameter(
            window.parameter,
            f"{series.rack_count()} racks x {window.days:g} days exceed {MAX_RACK_DAYS} "
            "rack-days per request (SoCP reads every 1 Hz row): ask for one rack at a time "
            "or a shorter period",
        )


class CellCount(msgspec.Struct):
    cell_position: int
    count: int
    share: float  # of the rows of this state and SoC decile
    mean_voltage: float | None
    mean_temperature: float | None  # the rack's highest cell temperature at those moments
    mean_current: float | None


class SoCPValue(msgspec.Struct):
    max: list[CellCount]
    min: list[CellCount]


class SoCPItem(msgspec.Struct):
    time: datetime  # the end of the period
    operating_site: int
    bank_id: int
    rack_id: int
    period: float  # days
    start_time: datetime
    end_time: datetime
    charge_status: str
    soc_range: int  # SoC decile: 0 for [0, 10) ... 90 for [90, 100]
    samples: int  # rows of this rack, state and decile
    value: SoCPValue


def rack_socp(
    conn: psycopg.Connection, series: Series, window: SoCPWindow, status: str | None
) -> list[SoCPItem]:
    site = series.site.site_id
    rows = conn.execute(
        SOCP_SQL,
        {
            "site": site,
            "bank": series.bank,
            "rack": series.rack,
            "start": window.start,
            "end": window.end,
            "status": status,
        },
    ).fetchall()
    items = []
    for (bank, rack, state, decile), group in groupby(rows, key=lambda r: r[:4]):
        extremes: dict[str, list[CellCount]] = {"max": [], "min": []}
        cells = list(group)
        for *_, extreme, position, count, _, share, voltage, temperature, current in cells:
            extremes[extreme].append(
                CellCount(position, count, share, voltage, temperature, current)
            )
        samples = cells[0][7]
        items.append(
            SoCPItem(
                time=local(window.end, series.tz),
                operating_site=site,
                bank_id=bank,
                rack_id=rack,
                period=window.days,
                start_time=local(window.start, series.tz),
                end_time=local(window.end, series.tz),
                charge_status=state,
                soc_range=decile,
                samples=samples,
                value=SoCPValue(**extremes),
            )
        )
    return items
