"""Fitting and predicting: the linear autoregression (least squares), LightGBM, split-conformal
half-widths. Both models predict the change from the value at the issue time."""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import lightgbm

# lightgbm (with scipy) is imported on first use: it would double the API's start-up time

# Small and fast on 2 cores, pooled over the racks of a site; fixed, never tuned on the
# backtest's evaluation days.
LIGHTGBM_PARAMETERS = {
    "objective": "l2",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.7,
    "bagging_freq": 1,
    "num_threads": 1,  # OpenMP threads spin on a busy machine: one is faster there
    "seed": 1,
    "deterministic": True,
    "verbose": -1,
}
LIGHTGBM_ROUNDS = 80
# nominal coverage of the prediction intervals
COVERAGE = 0.9
# the linear fit's ridge: keeps the weights finite when an input is constant (e.g. no lags)
RIDGE = 1e-6


def fit_linear(inputs: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Least-squares weights w with inputs @ w ~ change."""
    gram = inputs.T @ inputs + RIDGE * len(inputs) * np.eye(inputs.shape[1])
    return np.linalg.solve(gram, inputs.T @ change)


def fit_lightgbm(features: np.ndarray, change: np.ndarray, names: tuple[str, ...]) -> str:
    """The booster as text (what ess.forecast_model stores)."""
    import lightgbm

    data = lightgbm.Dataset(features, change, feature_name=list(names), free_raw_data=True)
    booster = lightgbm.train(LIGHTGBM_PARAMETERS, data, num_boost_round=LIGHTGBM_ROUNDS)
    return booster.model_to_string()


_boosters: dict[int, lightgbm.Booster] = {}
_boosters_lock = threading.Lock()


def booster(model_id: int, text: str | None = None) -> lightgbm.Booster | None:
    """The booster of a stored model, parsed once per process (a version never changes);
    None when it is not loaded yet and no text is given."""
    with _boosters_lock:
        if model_id not in _boosters and text is not None:
            _boosters[model_id] = booster_from_text(text)
        return _boosters.get(model_id)


def booster_from_text(text: str) -> lightgbm.Booster:
    import lightgbm

    return lightgbm.Booster(model_str=text)


def predict_lightgbm(model: lightgbm.Booster, features: np.ndarray) -> np.ndarray:
    return model.predict(features, num_threads=1)


def conformal_halfwidth(residuals: np.ndarray, coverage: float = COVERAGE) -> float | None:
    """Split conformal: the ceil((n + 1) coverage)-th smallest absolute residual of the
    calibration rows, so [prediction - q, prediction + q] covers a new value with probability
    at least `coverage` when the errors are exchangeable."""
    errors = np.sort(np.abs(residuals[~np.isnan(residuals)]))
    if len(errors) == 0:
        return None
    rank = min(math.ceil((len(errors) + 1) * coverage), len(errors))
    return float(errors[rank - 1])
