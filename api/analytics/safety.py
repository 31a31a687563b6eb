"""SoS and ExSoS per time bucket: one call of the SQL functions ess.rack_sos and ess.exsos
(sql/functions/sos.sql, sos_extended.sql), shaped as the specification's items."""

from __future__ import annotations

from datetime import datetime

import msgspec
import psycopg

from api.analytics.indicator_request import BucketWindow, Series, local

SOS_SQL = "SELECT * FROM ess.rack_sos(%s, %s, %s, %s, %s, %s)"
EXSOS_SQL = "SELECT * FROM ess.exsos(%s, %s, %s, %s, %s, %s, %s)"
BANK_MODE, RACK_MODE = 1, 2


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


def rack_sos(conn: psycopg.Connection, series: Series, window: BucketWindow) -> list[SoSItem]:
    site = series.site.site_id
    rows = conn.execute(
        SOS_SQL, (site, series.bank, series.rack, window.start, window.end, window.width)
    )
    return [
        SoSItem(local(bucket, series.tz), site, bank, rack, *factors)
        for bucket, bank, rack, *factors in rows
    ]


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


def exsos(
    conn: psycopg.Connection, series: Series, window: BucketWindow, mode: int
) -> list[ExSoSItem]:
    site = series.site.site_id
    rows = conn.execute(
        EXSOS_SQL,
        (site, series.bank, series.rack, window.start, window.end, window.width, mode),
    )
    items = []
    for row in rows:
        bucket, mode_, bank, rack, state, current = row[:6]
        hazard_a, quantity_a, value_a, severity_a = row[6:10]
        hazard_b, quantity_b, value_b, severity_b = row[10:14]
        degrees, score, score_class = row[14:19], row[19], row[20]
        items.append(
            ExSoSItem(
                time=local(bucket, series.tz),
                mode=mode_,
                operating_site=site,
                bank_id=bank,
                rack_id=rack,
                operating_state=state,
                mean_current=current,
                integrated_safety=score,
                exsos_class=score_class,
                membership_degree=MembershipDegree(*degrees),
                inputs=[
                    ExSoSInput(hazard_a, quantity_a, value_a, severity_a),
                    ExSoSInput(hazard_b, quantity_b, value_b, severity_b),
                ],
            )
        )
    return items
