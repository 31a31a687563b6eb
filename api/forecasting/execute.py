"""Execute step, the only code holding a connection: the forecast rows of one plan, the stored
model of the version those rows used, and its LightGBM booster the first time this process
serves that version."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from api.forecasting import models
from api.forecasting.frames import DayAheadRow, TenMinuteRow, read_rows
from api.forecasting.plan import ForecastPlan

MODEL_SQL = (
    "SELECT model_id, model_version, chosen_model, interval_halfwidth FROM ess.forecast_model "
    "WHERE site_id = %s AND forecast_target = %s AND model_version = %s"
)
BOOSTER_SQL = "SELECT lightgbm_model FROM ess.forecast_model WHERE model_id = %s"


class StoredModel(msgspec.Struct):
    model_id: int
    model_version: int
    chosen_model: str
    interval_halfwidth: dict[str, float | None]


@dataclass(frozen=True)
class ForecastData:
    rows: list[TenMinuteRow] | list[DayAheadRow]
    model: StoredModel | None
    booster: object | None  # lightgbm.Booster


def read_forecast(pool: ConnectionPool, plan: ForecastPlan) -> ForecastData:
    args, target = plan.args, plan.target
    with pool.connection() as conn:
        rows = read_rows(
            conn,
            target.day_ahead,
            plan.site.site_id,
            plan.bank,
            plan.rack,
            target.name,
            args.start,
            args.end,
            args.step,
        )
        version = rows[0].model_version if rows else None
        if version is None:
            return ForecastData(rows, None, None)
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(MODEL_SQL, (plan.site.site_id, target.name, version))
            model = msgspec.convert(cur.fetchone(), StoredModel)
        booster = models.booster(model.model_id)
        if booster is None and not target.day_ahead:
            text = conn.execute(BOOSTER_SQL, (model.model_id,)).fetchone()[0]
            booster = models.booster(model.model_id, text) if text else None
    return ForecastData(rows, model, booster)
