"""SQL step of SoL: the days (sol_days.sql) and, for the detail URL, the trend models
(sol_models.sql)."""

from __future__ import annotations

from datetime import date

import msgspec

from api.analytics.sol.parse import SoLRequest
from api.db import Statement, sql_text

SOL_DAYS_SQL = sql_text(__file__, "sol_days.sql")
SOL_MODELS_SQL = sql_text(__file__, "sol_models.sql")
HOLDOUT_DAYS = 14


class DayRow(msgspec.Struct):
    bank_id: int
    rack_id: int | None
    day: date
    value: float
    top_limit_value: float | None
    bottom_limit_value: float | None
    kind: str


class ModelRow(msgspec.Struct):
    bank_id: int
    rack_id: int | None
    origin: date
    fit_start: date
    n_days: int
    slope_per_day: float | None
    intercept: float | None
    residual_se: float | None
    t_quantile: float | None
    backtest_origin: date | None
    holdout_days: int | None
    mae_trend: float | None
    mae_persistence: float | None
    band_coverage: float | None


def _params(request: SoLRequest) -> dict[str, object]:
    return {
        **request.series.params(),
        "first_day": request.first,
        "last_day": request.last,
        "fit_days": request.fit_days,
    }


def sol_days_statement(request: SoLRequest) -> Statement:
    return SOL_DAYS_SQL, _params(request)


def sol_models_statement(request: SoLRequest) -> Statement:
    return SOL_MODELS_SQL, {**_params(request), "holdout_days": HOLDOUT_DAYS}
