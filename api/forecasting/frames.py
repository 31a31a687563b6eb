"""Rows of ess.forecast() / ess.forecast_day_ahead(), read once per request or training run and
decoded by column name."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec
import psycopg
from psycopg.rows import dict_row

TEN_MINUTE_SQL = "SELECT * FROM ess.forecast(%s, %s, %s, %s, %s, %s, %s)"
DAY_AHEAD_SQL = "SELECT * FROM ess.forecast_day_ahead(%s, %s, %s, %s, %s, %s)"


class TenMinuteRow(msgspec.Struct):
    issue_time: datetime
    target_time: datetime
    bank_id: int
    rack_id: int
    observed: float
    seasonal_naive: float | None
    lag_1: float | None
    lag_5: float | None
    lag_10: float | None
    mean_10: float | None
    std_10: float | None
    mean_60: float | None
    min_60: float | None
    max_60: float | None
    rack_current: float | None
    rack_soc: float | None
    charge_state: int
    bank_power: float | None
    ambient_temperature: float | None
    minute_of_day: int
    linear_inputs: list[float]
    linear: float | None
    linear_lower: float | None
    linear_upper: float | None
    observed_at_target: float | None
    model_version: int | None


class DayAheadRow(msgspec.Struct):
    issue_time: datetime
    bank_id: int
    rack_id: int
    observed: float
    target_times: list[datetime]
    seasonal_naive: list[float | None]
    linear: list[float | None]
    linear_halfwidth: float | None
    observed_at_target: list[float | None]
    model_version: int | None


def read_rows(
    conn: psycopg.Connection,
    day_ahead: bool,
    site: int,
    bank: int | None,
    rack: int | None,
    target: str,
    start: datetime,
    end: datetime,
    step: timedelta,
) -> list[TenMinuteRow] | list[DayAheadRow]:
    with conn.cursor(row_factory=dict_row) as cur:
        if day_ahead:
            cur.execute(DAY_AHEAD_SQL, (site, bank, rack, start, end, step))
            return msgspec.convert(cur.fetchall(), list[DayAheadRow])
        cur.execute(TEN_MINUTE_SQL, (site, bank, rack, target, start, end, step))
        return msgspec.convert(cur.fetchall(), list[TenMinuteRow])
