"""SQL step of ExSoS: the statement and the answer's item, whose fields are its columns."""

from __future__ import annotations

from datetime import datetime

import msgspec

from api.analytics.buckets import BucketWindow
from api.analytics.series import Series
from api.db import Statement, sql_text

EXSOS_SQL = sql_text(__file__, "exsos.sql")
BANK_MODE, RACK_MODE = 1, 2


class MembershipDegree(msgspec.Struct):
    catastrophic: float | None
    critical: float | None
    neutral: float | None
    marginal: float | None
    negligible: float | None


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
    inputs: list[ExSoSInput] = msgspec.field(default_factory=list)


def exsos_statement(series: Series, window: BucketWindow, mode: int) -> Statement:
    return EXSOS_SQL, {**series.params(), **window.params(), "mode": mode}
