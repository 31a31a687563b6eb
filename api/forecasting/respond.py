"""Respond step: forecast rows (+ the LightGBM predictions, computed here, outside the
connection) -> the answer's items, times in the requested zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec
import numpy as np

from api.forecasting import models
from api.forecasting.execute import ForecastData
from api.forecasting.features import day_ahead_features
from api.forecasting.frames import DayAheadRow, TenMinuteRow
from api.forecasting.plan import ForecastPlan
from api.forecasting.targets import FEATURES

# without a stored model only the baselines answer
FALLBACK_MODEL = "persistence"


class ForecastValues(msgspec.Struct):
    observed: float
    persistence: float
    seasonal_naive: float | None
    linear: float | None
    lightgbm: float | None


class ForecastItem(msgspec.Struct):
    time: datetime
    target_time: datetime
    operating_site: int
    bank_id: int
    rack_id: int
    values: ForecastValues
    observed_at_target: float | None
    lower: float | None
    upper: float | None
    model: str
    version: str | None


class SoSClasses(msgspec.Struct):
    forecast: str | None
    observed: str | None
    observed_at_target: str | None


class SoSForecastItem(ForecastItem):
    sos_class: SoSClasses = msgspec.field(name="class")


class DayAheadValues(msgspec.Struct):
    time: list[datetime]
    persistence: list[float]
    seasonal_naive: list[float | None]
    linear: list[float | None]
    lightgbm: list[float | None]
    lower: list[float | None]
    upper: list[float | None]
    observed: list[float | None]


class DayAheadItem(msgspec.Struct):
    time: datetime
    operating_site: int
    bank_id: int
    rack_id: int
    values: DayAheadValues
    model: str
    version: str | None


def _version(data: ForecastData) -> str | None:
    return None if data.model is None else f"v{data.model.model_version}"


def _interval(value: float | None, halfwidth: float | None) -> tuple[float | None, float | None]:
    if value is None or halfwidth is None:
        return None, None
    return value - halfwidth, value + halfwidth


def ten_minute_items(plan: ForecastPlan, data: ForecastData) -> list[ForecastItem]:
    rows: list[TenMinuteRow] = data.rows  # type: ignore[assignment]
    boosted: list[float | None] = [None] * len(rows)
    if data.booster is not None and rows:
        features = np.array([[getattr(r, n) for n in FEATURES] for r in rows], dtype=float)
        changes = models.predict_lightgbm(data.booster, features)
        boosted = [r.observed + float(c) for r, c in zip(rows, changes, strict=True)]
    chosen = data.model.chosen_model if data.model else FALLBACK_MODEL
    halfwidth = data.model.interval_halfwidth.get(chosen) if data.model else None
    tz, site, version = plan.args.tz, plan.site.site_id, _version(data)
    items: list[ForecastItem] = []
    for row, lightgbm in zip(rows, boosted, strict=True):
        values = ForecastValues(
            observed=row.observed,
            persistence=row.observed,
            seasonal_naive=row.seasonal_naive,
            linear=row.linear,
            lightgbm=lightgbm,
        )
        forecast = getattr(values, chosen)
        lower, upper = _interval(forecast, halfwidth)
        fields = {
            "time": row.issue_time.astimezone(tz),
            "target_time": row.target_time.astimezone(tz),
            "operating_site": site,
            "bank_id": row.bank_id,
            "rack_id": row.rack_id,
            "values": values,
            "observed_at_target": row.observed_at_target,
            "lower": lower,
            "upper": upper,
            "model": chosen,
            "version": version,
        }
        if data.sos_classes is not None:
            of = data.sos_classes.of
            classes = SoSClasses(of(forecast), of(row.observed), of(row.observed_at_target))
            items.append(SoSForecastItem(**fields, sos_class=classes))
        else:
            items.append(ForecastItem(**fields))
    return items


def day_ahead_items(plan: ForecastPlan, data: ForecastData) -> list[DayAheadItem]:
    rows: list[DayAheadRow] = data.rows  # type: ignore[assignment]
    chosen = data.model.chosen_model if data.model else FALLBACK_MODEL
    halfwidth = data.model.interval_halfwidth.get(chosen) if data.model else None
    tz, version = plan.args.tz, _version(data)
    boosted: list[list[float | None]] = [[None] * len(r.target_times) for r in rows]
    if data.booster is not None and rows:
        features = day_ahead_features(rows, ZoneInfo(plan.site.timezone))
        changes = models.predict_lightgbm(data.booster, features)
        boosted = (features[:, 0] + changes).reshape(len(rows), -1).tolist()
    items = []
    for row, lightgbm in zip(rows, boosted, strict=True):
        persistence = [row.observed] * len(row.target_times)
        by_model = {
            "persistence": persistence,
            "seasonal_naive": row.seasonal_naive,
            "linear": row.linear,
            "lightgbm": lightgbm,
        }
        bounds = [_interval(v, halfwidth) for v in by_model[chosen]]
        items.append(
            DayAheadItem(
                time=row.issue_time.astimezone(tz),
                operating_site=plan.site.site_id,
                bank_id=row.bank_id,
                rack_id=row.rack_id,
                values=DayAheadValues(
                    time=[t.astimezone(tz) for t in row.target_times],
                    persistence=persistence,
                    seasonal_naive=row.seasonal_naive,
                    linear=row.linear,
                    lightgbm=lightgbm,
                    lower=[lower for lower, _ in bounds],
                    upper=[upper for _, upper in bounds],
                    observed=row.observed_at_target,
                ),
                model=chosen,
                version=version,
            )
        )
    return items
