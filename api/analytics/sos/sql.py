"""SQL step of SoS: the statement and the answer's item, whose fields are its columns."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.buckets import BucketWindow
from api.analytics.series import Series
from api.db import Statement, sql_text

SOS_SQL = sql_text(__file__, "sos.sql")


class SoSItem(msgspec.Struct):
    time: datetime
    operating_site: int
    bank_id: int
    rack_id: int
    over_voltage: float | None
    under_voltage: float | None
    voltage_unbalance: float | None
    over_current: float | None
    over_temperature: float | None
    under_temperature: float | None
    temperature_unbalance: float | None
    sos_score: float | None
    sos_class: str | None = msgspec.field(name="class")


def sos_statement(series: Series, window: BucketWindow) -> Statement:
    return SOS_SQL, {**series.params(), **window.params()}
