"""SQL step of SoCP: the statement and the answer's item, whose fields are its columns."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.socp.parse import SoCPRequest
from api.db import Statement, sql_text

SOCP_SQL = sql_text(__file__, "socp.sql")


class CellStat(msgspec.Struct):
    """A cell position's appearances as the rack's highest cell voltage (the earlier
    service's `value` entry): count and the means at those moments."""

    count: int
    voltage: float | None  # the highest cell voltage
    temp: float | None  # the rack's highest cell temperature
    current: float | None


class CellCount(msgspec.Struct):
    cell_position: int
    count: int
    share: float  # of the rows of this state and SoC decile
    mean_voltage: float | None
    mean_temperature: float | None  # the rack's highest cell temperature at those moments
    mean_current: float | None


class SoCPPositions(msgspec.Struct):
    max: list[CellCount]
    min: list[CellCount]


class SoCPItem(msgspec.Struct):
    time: datetime  # the start of the period's last day
    operating_site: int
    bank_id: int
    rack_id: int
    period: int  # days
    start_time: datetime
    end_time: datetime
    charge_status: int  # 0 charge, 1 discharge, 2 rest
    operating_state: str  # charge | discharge | rest
    soc_range: int  # SoC decile: 0 for [0, 10) ... 90 for [90, 100]
    samples: int  # rows of this rack, state and decile
    value: dict[str, CellStat]  # by cell number: as the rack's highest cell voltage
    positions: SoCPPositions  # both extremes, the most frequent position first


def socp_statement(request: SoCPRequest) -> Statement:
    return SOCP_SQL, {
        **request.series.params(),
        "days": [d.day for d in request.days],
        "window_starts": [d.start for d in request.days],
        "window_ends": [d.end for d in request.days],
        "period": request.period,
        "charge_status": request.charge_status,
    }
