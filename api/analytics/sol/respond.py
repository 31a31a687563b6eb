"""Respond step of SoL: the rows rounded and nested as the answer."""

from __future__ import annotations

from datetime import date

import msgspec

from api.analytics.sol.parse import SoLRequest
from api.analytics.sol.sql import HOLDOUT_DAYS, DayRow, ModelRow

# SoL is in percent points (SoH in 0.1 % steps moves it by 0.5): 3 decimals drop only the
# double-precision noise of the means (63.99999999999956); the slope is per day, so finer
SOL_DECIMALS = 3
SLOPE_DECIMALS = 5
T_DECIMALS = 4  # as the table of ess.student_t_975

METHOD = (
    "SoL = (SoH - 80) x 5 from the daily mean SoH; forecast: least-squares line over the last "
    "fit_days days up to the last day with data, 95 % prediction interval "
    "(t quantile x residual standard error x sqrt(1 + 1/n + (x - mean x)^2 / Sxx)); backtest: "
    f"the same fit made {HOLDOUT_DAYS} days earlier against the observed days since, "
    "mean absolute error vs persistence"
)


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


def _rounded(value: float | None, decimals: int = SOL_DECIMALS) -> float | None:
    return None if value is None else round(value, decimals)


def _model(row: ModelRow) -> TrendModel:
    backtest = None
    if row.backtest_origin is not None:
        backtest = Backtest(
            row.backtest_origin,
            row.holdout_days or 0,
            _rounded(row.mae_trend),
            _rounded(row.mae_persistence),
            _rounded(row.band_coverage),
        )
    return TrendModel(
        row.bank_id,
        row.rack_id,
        row.origin,
        row.fit_start,
        row.n_days,
        _rounded(row.slope_per_day, SLOPE_DECIMALS),
        _rounded(row.intercept),
        _rounded(row.residual_se),
        _rounded(row.t_quantile, T_DECIMALS),
        backtest,
    )


def sol_items(request: SoLRequest, days: list[DayRow]) -> list[SoLItem]:
    site = request.series.site.site_id
    return [
        SoLItem(
            d.day,
            site,
            d.bank_id,
            d.rack_id,
            _rounded(d.value),
            _rounded(d.top_limit_value),
            _rounded(d.bottom_limit_value),
            d.kind,
        )
        for d in days
    ]


def sol_answer(request: SoLRequest, days: list[DayRow], models: list[ModelRow]) -> SoLAnswer:
    return SoLAnswer(
        request.series.site.site_id,
        METHOD,
        request.fit_days,
        sol_items(request, days),
        [_model(m) for m in models],
    )
