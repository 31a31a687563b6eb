"""SQL step of SoCP: the statement and the answer's item, whose fields are its columns."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.socp.parse import SoCPRequest
from api.db import Statement, sql_text

SOCP_SQL = sql_text(__file__, "socp.sql")


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


def socp_statement(request: SoCPRequest) -> Statement:
    window = request.window
    return SOCP_SQL, {
        **request.series.params(),
        "window_start": window.start,
        "window_end": window.end,
        "period_days": window.days,
        "charge_status": request.charge_status,
    }
