"""`ess forecast train`: per site and target, a rolling-origin backtest on days the models did not
see, then the final models, stored as a new version (docs/forecasting.md).

Backtest: the samples are split by the local day of the period their target aggregates (the
minute, or the hour, that ends at the target time); a target past the window's end belongs to no
day. For each of the last TEST_DAYS days d: fit on the days before d - 1, calibrate the intervals
on day d - 1, evaluate on day d. The stored models are then fitted on every day but the last and
calibrated on the last. Hyperparameters are fixed (models.py): nothing is tuned on the evaluation
days."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from api.catalog.model import Site
from api.forecasting import models
from api.forecasting.features import (
    TenMinuteFrame,
    day_ahead_features,
    read_minute_grid,
    ten_minute_frame,
)
from api.forecasting.frames import DayAheadRow, read_rows
from api.forecasting.targets import (
    DAY_AHEAD_FEATURES,
    DAY_AHEAD_INPUTS,
    FEATURES,
    HOUR,
    LINEAR_INPUTS,
    MINUTE,
    TARGETS,
    Target,
)
from api.params import local_midnight

TEST_DAYS = 2
MIN_DAYS = TEST_DAYS + 2  # a fitting day and a calibration day before the first test day


class ForecastError(ValueError):
    """A bad argument of `ess forecast train` or too little data to backtest."""


# fit(mask) -> (what is stored, predict(mask) -> prediction)
Learner = Callable[[np.ndarray], tuple[object, Callable[[np.ndarray], np.ndarray]]]


@dataclass
class Samples:
    """One sample per (rack, issue time[, horizon]): its day, the target's value once known,
    the baselines' predictions and the learners."""

    # date ordinal of the local day of the period the target aggregates, NaN past the window
    day: np.ndarray
    actual: np.ndarray
    baselines: dict[str, np.ndarray]
    learners: dict[str, Learner] = field(default_factory=dict)


@dataclass
class Fitted:
    site: int
    target: str
    train_start: datetime
    train_end: datetime
    chosen_model: str
    features: list[str]
    hyperparameters: dict
    linear_weights: list[float]
    lightgbm_model: str | None
    interval_halfwidth: dict[str, float | None]
    metrics: dict[str, dict[str, float | int | None]]
    seconds: float = 0.0
    version: int | None = None


def _array(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _hour_days(ends: list[datetime], window_end: datetime, tz: ZoneInfo) -> np.ndarray:
    """The local day of each hour that ends at `ends`; NaN for an hour past the window."""
    return np.array(
        [(e - HOUR).astimezone(tz).date().toordinal() if e <= window_end else np.nan for e in ends]
    )


def ten_minute_samples(frame: TenMinuteFrame) -> Samples:
    observed, inputs, features = frame.observed, frame.linear_inputs, frame.features
    change = frame.observed_at_target - observed

    def linear(mask):
        weights = models.fit_linear(inputs[mask], change[mask])
        return weights.tolist(), lambda m: observed[m] + inputs[m] @ weights

    return Samples(
        day=frame.day,
        actual=frame.observed_at_target,
        baselines={"persistence": observed, "seasonal_naive": frame.seasonal_naive},
        learners={
            "linear": linear,
            "lightgbm": lightgbm_learner(features, observed, frame.observed_at_target, FEATURES),
        },
    )


def lightgbm_learner(
    features: np.ndarray, observed: np.ndarray, actual: np.ndarray, names: tuple[str, ...]
) -> Learner:
    """LightGBM on `features`, predicting the change from the value at the issue time."""

    def fit(mask):
        text = models.fit_lightgbm(features[mask], actual[mask] - observed[mask], names)
        booster = models.booster_from_text(text)
        return text, lambda m: observed[m] + models.predict_lightgbm(booster, features[m])

    return fit


def day_ahead_samples(rows: list[DayAheadRow], window_end: datetime, tz: ZoneInfo) -> Samples:
    """One sample per issue time and horizon; the linear model has weights per horizon."""
    horizons = 24
    observed = np.repeat(_array(r.observed for r in rows), horizons)
    seasonal = np.concatenate([_array(r.seasonal_naive) for r in rows]) if rows else np.empty(0)
    actual = np.concatenate([_array(r.observed_at_target) for r in rows]) if rows else observed
    horizon = np.tile(np.arange(horizons), len(rows))
    inputs = np.column_stack(
        [np.ones_like(observed), observed, np.where(np.isnan(seasonal), observed, seasonal)]
    )

    def linear(mask):
        weights = np.zeros((horizons, len(DAY_AHEAD_INPUTS)))
        for h in range(horizons):
            rows_h = mask & (horizon == h)
            if rows_h.any():
                weights[h] = np.linalg.lstsq(inputs[rows_h], actual[rows_h], rcond=None)[0]
        return weights.ravel().tolist(), lambda m: np.einsum(
            "ij,ij->i", inputs[m], weights[horizon[m]]
        )

    times = [t for r in rows for t in r.target_times]
    return Samples(
        day=_hour_days(times, window_end, tz),
        actual=actual,
        baselines={"persistence": observed, "seasonal_naive": seasonal},
        learners={
            "linear": linear,
            "lightgbm": lightgbm_learner(
                day_ahead_features(rows, tz), observed, actual, DAY_AHEAD_FEATURES
            ),
        },
    )


def _predictions(samples: Samples, fit: np.ndarray, *masks: np.ndarray):
    """Every model's predictions on each mask, and what the learners store."""
    stored: dict[str, object] = {}
    predictions = [{name: values[m] for name, values in samples.baselines.items()} for m in masks]
    for name, learner in samples.learners.items():
        stored[name], predict = learner(fit)
        for found, m in zip(predictions, masks, strict=True):
            found[name] = predict(m)
    return stored, predictions


@dataclass(frozen=True)
class Split:
    """Masks of the samples: fitted on, calibrated on, scored on (None: the stored models)."""

    fit: np.ndarray
    calibration: np.ndarray
    test: np.ndarray | None = None


def rolling_origin(samples: Samples) -> tuple[list[Split], Split]:
    """The backtest's splits, one per test day, and the stored models' split."""
    known = ~np.isnan(samples.actual) & ~np.isnan(samples.baselines["persistence"])
    known &= ~np.isnan(samples.day)
    days = np.unique(samples.day[known])
    if len(days) < MIN_DAYS:
        raise ForecastError(f"{len(days)} day(s) with data; the backtest needs at least {MIN_DAYS}")
    # every model is scored on the same samples: those with a seasonal-naive value too
    scored = known & ~np.isnan(samples.baselines["seasonal_naive"])
    folds = [
        Split(
            fit=known & (samples.day < day - 1),
            calibration=known & (samples.day == day - 1),
            test=scored & (samples.day == day),
        )
        for day in days[-TEST_DAYS:]
    ]
    last = days[-1]
    return folds, Split(fit=known & (samples.day < last), calibration=known & (samples.day == last))


def backtest(samples: Samples):
    """Metrics per model over the test days, then the final models and their half-widths."""
    folds, final = rolling_origin(samples)
    names = [*samples.baselines, *samples.learners]
    errors: dict[str, list] = {n: [] for n in names}
    covered: dict[str, list] = {n: [] for n in names}
    for fold in folds:
        _, (on_calibration, on_test) = _predictions(samples, fold.fit, fold.calibration, fold.test)
        for n in names:
            q = models.conformal_halfwidth(samples.actual[fold.calibration] - on_calibration[n])
            error = samples.actual[fold.test] - on_test[n]
            errors[n].append(error)
            covered[n].append(np.abs(error) <= (np.nan if q is None else q))
    metrics = _metrics(errors, covered)
    stored, (on_last,) = _predictions(samples, final.fit, final.calibration)
    halfwidths = {
        n: models.conformal_halfwidth(samples.actual[final.calibration] - on_last[n]) for n in names
    }
    return metrics, stored, halfwidths


def _metrics(errors: dict[str, list], covered: dict[str, list]) -> dict[str, dict]:
    found = {}
    for name, parts in errors.items():
        error = np.concatenate(parts)
        error = error[~np.isnan(error)]
        hits = np.concatenate(covered[name])
        found[name] = {
            "mae": float(np.mean(np.abs(error))) if len(error) else None,
            "rmse": float(np.sqrt(np.mean(error**2))) if len(error) else None,
            "coverage": float(np.mean(hits)) if len(hits) else None,
            "n": len(error),
        }
    reference = found["persistence"]["mae"]
    for values in found.values():
        values["skill"] = (
            1 - values["mae"] / reference if values["mae"] is not None and reference else None
        )
    return found


def train_target(
    target: Target, samples: Samples, start: datetime, end: datetime, site: int
) -> Fitted:
    metrics, stored, halfwidths = backtest(samples)
    scored = {n: m["mae"] for n, m in metrics.items() if m["mae"] is not None}
    step = HOUR if target.day_ahead else MINUTE  # every issue time with data
    return Fitted(
        site=site,
        target=target.name,
        train_start=start,
        train_end=end,
        chosen_model=min(scored, key=scored.__getitem__),
        features=list(DAY_AHEAD_FEATURES if target.day_ahead else FEATURES),
        hyperparameters={
            "training_step_minutes": step.total_seconds() / 60,
            "test_days": TEST_DAYS,
            "interval_coverage": models.COVERAGE,
            "linear_inputs": list(DAY_AHEAD_INPUTS if target.day_ahead else LINEAR_INPUTS),
            "lightgbm": models.LIGHTGBM_PARAMETERS,
            "rounds": models.LIGHTGBM_ROUNDS,
        },
        linear_weights=stored["linear"],  # type: ignore[arg-type]
        lightgbm_model=stored.get("lightgbm"),  # type: ignore[arg-type]
        interval_halfwidth=halfwidths,
        metrics=metrics,
    )


ADD_MODEL_SQL = "SELECT ess.add_forecast_model(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"


def store(conn: psycopg.Connection, fitted: Fitted) -> int:
    """One statement (its own transaction on the command line's autocommit connection): the
    model's row is written whole or not at all."""
    version = conn.execute(
        ADD_MODEL_SQL,
        (
            fitted.site,
            fitted.target,
            fitted.train_start,
            fitted.train_end,
            fitted.chosen_model,
            fitted.features,
            json.dumps(fitted.hyperparameters),
            fitted.linear_weights,
            fitted.lightgbm_model,
            json.dumps(fitted.interval_halfwidth),
            json.dumps(fitted.metrics),
        ),
    ).fetchone()[0]
    fitted.version = version
    return version


LAST_DATA_SQL = "SELECT max(ts) FROM ess.rack WHERE site_id = %s"


def training_window(
    conn: psycopg.Connection, site: Site, until: date | None, days: int
) -> tuple[datetime, datetime] | None:
    """`days` local days ending with `until` (default: the last day with rack data)."""
    tz = ZoneInfo(site.timezone)
    if until is None:
        last = conn.execute(LAST_DATA_SQL, (site.site_id,)).fetchone()[0]
        if last is None:
            return None
        until = last.astimezone(tz).date()
    end = local_midnight(until + timedelta(days=1), tz)
    return local_midnight(until - timedelta(days=days - 1), tz), end


# a connection for one short step: the command line's own one, or `ess run`'s API pool
Connect = Callable[[], AbstractContextManager[psycopg.Connection]]


def one_connection(conn: psycopg.Connection) -> Connect:
    """A Connect that lends this open connection every time (whoever opened it closes it)."""
    return lambda: nullcontext(conn)


def fit_site(
    connect: Connect,
    site: Site,
    until: date | None,
    days: int,
    targets: tuple[Target, ...] = TARGETS,
) -> Iterator[Fitted]:
    """Every target of `targets`, fitted and backtested one at a time, not stored; the 10-minute
    ones from one read of the site's minute values. A connection is taken for each read only:
    none is held, and no transaction stays open, while the models are fitted."""
    with connect() as conn:
        window = training_window(conn, site, until, days)
    if window is None:
        return
    tz = ZoneInfo(site.timezone)
    grid = None
    for target in targets:
        began = time.perf_counter()
        if target.day_ahead:
            with connect() as conn:
                rows = read_rows(conn, True, site.site_id, None, None, target.name, *window, HOUR)
            samples = day_ahead_samples(rows, window[1], tz)  # type: ignore[arg-type]
        else:
            if grid is None:
                with connect() as conn:
                    grid = read_minute_grid(conn, site.site_id, *window, tz)
            samples = ten_minute_samples(ten_minute_frame(grid, target.name, *window))
        found = train_target(target, samples, *window, site.site_id)
        found.seconds = time.perf_counter() - began
        yield found


def train_site(
    conn: psycopg.Connection,
    site: Site,
    until: date | None,
    days: int,
    targets: tuple[Target, ...] = TARGETS,
) -> list[Fitted]:
    """Every target of `targets`, each stored as soon as it is fitted."""
    fitted: list[Fitted] = []
    for found in fit_site(one_connection(conn), site, until, days, targets):
        store(conn, found)
        fitted.append(found)
    return fitted
