"""SoL (State of Life) per local day with its forecast: observed days, then a least-squares
trend with a 95 % prediction band, and the trend's backtest against persistence
(sql/functions/sol.sql: ess.sol_forecast, ess.sol_trend, ess.sol_backtest)."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
import psycopg

from api.analytics.indicator_request import Series
from api.errors import bad_parameter
from api.params import parse_date

MAX_SPAN = timedelta(days=3 * 366)
FIT_DAYS_DEFAULT = 90
FIT_DAYS_RANGE = (7, 730)
HOLDOUT_DAYS = 14

# SoL is in percent points (SoH in 0.1 % steps moves it by 0.5): 3 decimals drop only the
# double-precision noise of the means (63.99999999999956); the slope is per day, so finer
SOL_DECIMALS = 3
SLOPE_DECIMALS = 5
FORECAST_SQL = "SELECT * FROM ess.sol_forecast(%s, %s, %s, %s, %s, %s)"
MODELS_SQL = "SELECT * FROM ess.sol_models(%s, %s, %s, %s, %s, %s, %s)"


def parse_days(start_date: str | None, end_date: str | None) -> tuple[date, date]:
    if start_date is None:
        raise bad_parameter("start-date", "give the first day (YYYY-MM-DD)")
    if end_date is None:
        raise bad_parameter("end-date", "give the last day (YYYY-MM-DD), future days forecast")
    first, last = parse_date(start_date, "start-date"), parse_date(end_date, "end-date")
    if last < first:
        raise bad_parameter("end-date", f"end-date {last} is before start-date {first}")
    if last - first > MAX_SPAN:
        raise bad_parameter("end-date", f"at most {MAX_SPAN.days} days per request")
    return first, last


def parse_fit_days(value: str | None) -> int:
    if value is None:
        return FIT_DAYS_DEFAULT
    low, high = FIT_DAYS_RANGE
    try:
        days = int(value)
    except ValueError:
        raise bad_parameter("fit-days", f"{value!r} is not a whole number of days") from None
    if not low <= days <= high:
        raise bad_parameter("fit-days", f"give {low} to {high} days")
    return days


class SoLItem(msgspec.Struct):
    date: date
    operating_site: int
    bank_id: int
    rack_id: int | None
    value: float
    top_limit_value: float | None
    bottom_limit_value: float | None
    kind: str  # observed | forecast


class Backtest(msgspec.Struct):
    origin: date
    holdout_days: int
    mae_trend: float | None
    mae_persistence: float | None
    band_coverage: float | None


class TrendModel(msgspec.Struct):
    bank_id: int
    rack_id: int | None
    origin: date
    fit_start: date
    fit_days_with_data: int
    slope_per_day: float | None
    value_at_origin: float | None
    residual_standard_error: float | None
    t_quantile: float | None
    backtest: Backtest | None


class SoLAnswer(msgspec.Struct):
    operating_site: int
    method: str
    fit_days: int
    items: list[SoLItem]
    models: list[TrendModel]


METHOD = (
    "SoL = (SoH - 80) x 5 from the daily mean SoH; forecast: least-squares line over the last "
    "fit_days days up to the last day with data, 95 % prediction interval "
    "(t quantile x residual standard error x sqrt(1 + 1/n + (x - mean x)^2 / Sxx)); backtest: "
    f"the same fit made {HOLDOUT_DAYS} days earlier against the observed days since, "
    "mean absolute error vs persistence"
)


def _rounded(value: float | None, decimals: int = SOL_DECIMALS) -> float | None:
    return None if value is None else round(value, decimals)


def forecast_sol(
    conn: psycopg.Connection, series: Series, first: date, last: date, fit_days: int
) -> SoLAnswer:
    site = series.site.site_id
    rows = conn.execute(
        FORECAST_SQL, (site, series.bank, series.rack, first, last, fit_days)
    ).fetchall()
    items = [
        SoLItem(day, site, bank, rack, _rounded(value), _rounded(top), _rounded(bottom), kind)
        for bank, rack, day, value, top, bottom, kind in rows
    ]
    models = []
    for row in conn.execute(
        MODELS_SQL, (site, series.bank, series.rack, first, last, fit_days, HOLDOUT_DAYS)
    ):
        bank, rack, origin, fit_start, n, slope, intercept, se, t_quantile = row[:9]
        tested_at, holdout, mae_trend, mae_persistence, coverage = row[9:]
        backtest = None
        if tested_at is not None:
            backtest = Backtest(
                tested_at,
                holdout,
                _rounded(mae_trend),
                _rounded(mae_persistence),
                _rounded(coverage),
            )
        models.append(
            TrendModel(
                bank,
                rack,
                origin,
                fit_start,
                n,
                _rounded(slope, SLOPE_DECIMALS),
                _rounded(intercept),
                _rounded(se),
                _rounded(t_quantile, 4),  # as the table of ess.student_t_975
                backtest,
            )
        )
    return SoLAnswer(site, METHOD, fit_days, items, models)
