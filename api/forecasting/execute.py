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
SOS_CLASSES_SQL = "SELECT ess.sos_safe_from(), ess.sos_warning_from()"


class StoredModel(msgspec.Struct):
    model_id: int
    model_version: int
    chosen_model: str
    interval_halfwidth: dict[str, float | None]


@dataclass(frozen=True)
class SoSClassBounds:
    """The lowest SoS of the safe and warning classes, from the SQL that defines them."""

    safe_from: float
    warning_from: float

    def of(self, score: float | None) -> str | None:
        if score is None:
            return None
        return (
            "safe"
            if score >= self.safe_from
            else "warning"
            if score >= self.warning_from
            else "unsafe"
        )


@dataclass(frozen=True)
class ForecastData:
    rows: list[TenMinuteRow] | list[DayAheadRow]
    model: StoredModel | None
    booster: object | None  # lightgbm.Booster
    sos_classes: SoSClassBounds | None = None  # for the SoS target


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
        sos_classes = (
            SoSClassBounds(*conn.execute(SOS_CLASSES_SQL).fetchone())
            if target.name == "sos"
            else None
        )
        version = rows[0].model_version if rows else None
        if version is None:
            return ForecastData(rows, None, None, sos_classes)
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(MODEL_SQL, (plan.site.site_id, target.name, version))
            model = msgspec.convert(cur.fetchone(), StoredModel)
        booster = models.booster(model.model_id)
        if booster is None:
            text = conn.execute(BOOSTER_SQL, (model.model_id,)).fetchone()[0]
            booster = models.booster(model.model_id, text) if text else None
    return ForecastData(rows, model, booster, sos_classes)
