"""The stored models, newest version per target (the models URL and `ess forecast status`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec
import psycopg
from psycopg.rows import dict_row

CURRENT_SQL = (
    "SELECT site_id, forecast_target, model_version, trained_at, train_start, train_end, "
    "chosen_model, features, hyperparameters, interval_halfwidth, metrics "
    "FROM ess.forecast_model_current WHERE %(site)s::integer IS NULL OR site_id = %(site)s "
    "ORDER BY site_id, forecast_target"
)


class ModelMetrics(msgspec.Struct):
    mae: float | None
    rmse: float | None
    skill: float | None  # 1 - MAE / MAE(persistence)
    coverage: float | None  # of the prediction interval on the test days
    n: int


class StoredModelSummary(msgspec.Struct):
    operating_site: int
    target: str
    version: str
    trained_at: datetime
    train_start: datetime
    train_end: datetime
    model: str  # the model the forecasts name (best backtest MAE)
    beats_persistence: bool
    features: list[str]
    hyperparameters: dict
    interval_halfwidth: dict[str, float | None]
    metrics: dict[str, ModelMetrics]

    def in_zone(self, tz: ZoneInfo) -> StoredModelSummary:
        """The same summary with its times in `tz` (the answer's zone)."""
        return msgspec.structs.replace(
            self,
            trained_at=self.trained_at.astimezone(tz),
            train_start=self.train_start.astimezone(tz),
            train_end=self.train_end.astimezone(tz),
        )


def current_models(conn: psycopg.Connection, site: int | None) -> list[StoredModelSummary]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(CURRENT_SQL, {"site": site}).fetchall()
    summaries = []
    for row in rows:
        metrics = msgspec.convert(row["metrics"], dict[str, ModelMetrics])
        best = metrics[row["chosen_model"]].mae
        summaries.append(
            StoredModelSummary(
                operating_site=row["site_id"],
                target=row["forecast_target"],
                version=f"v{row['model_version']}",
                trained_at=row["trained_at"],
                train_start=row["train_start"],
                train_end=row["train_end"],
                model=row["chosen_model"],
                beats_persistence=best is not None
                and best < (metrics["persistence"].mae or float("inf")),
                features=row["features"],
                hyperparameters=row["hyperparameters"],
                interval_halfwidth=row["interval_halfwidth"],
                metrics=metrics,
            )
        )
    return summaries
