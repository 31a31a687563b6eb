"""SQL step of ExSoS: the statement and the answer's item, whose fields are its columns."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.buckets import BucketWindow
from api.analytics.series import Series
from api.db import Statement, sql_text

EXSOS_SQL = sql_text(__file__, "exsos.sql")
BANK_MODE, RACK_MODE = 1, 2


class MembershipDegree(msgspec.Struct, rename="pascal"):
    catastrophic: float | None
    critical: float | None
    neutral: float | None
    marginal: float | None
    negligible: float | None


class MembershipDetail(msgspec.Struct):
    """The operating state and the seven worst-case inputs of the bucket."""

    status: int  # 0 charge, 1 discharge, 2 rest
    max_voltage: float | None
    max_temperature: float | None
    min_voltage: float | None
    min_temperature: float | None
    voltage_gap: float | None
    temperature_gap: float | None


class ExSoSInput(msgspec.Struct):
    hazard: str
    quantity: str
    value: float | None
    severity: float | None


class ExSoSItem(msgspec.Struct):
    time: datetime
    mode: int  # 1 bank level, 2 rack level
    operating_site: int
    bank_id: int
    rack_id: int | None
    operating_state: str  # charge | discharge | rest (mean current, 2 A dead band)
    mean_current: float | None
    integrated_safety: float | None
    exsos_class: str | None = msgspec.field(name="class")
    membership_degree: MembershipDegree | None = None
    membership_degree_detail: MembershipDetail | None = None
    inputs: list[ExSoSInput] = msgspec.field(default_factory=list)


def exsos_statement(series: Series, window: BucketWindow, mode: int) -> Statement:
    return EXSOS_SQL, {**series.params(), **window.params(), "mode": mode}
