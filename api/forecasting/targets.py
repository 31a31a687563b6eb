"""The forecast targets and models. The SQL of every target is in sql/functions/forecast.sql."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Target:
    name: str  # ess.forecast(p_target) and ess.forecast_model.forecast_target
    path: str  # the URL segment after /api/ess/stats/
    summary: str
    default_step: timedelta
    day_ahead: bool = False


MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
HORIZON = timedelta(minutes=10)

TARGETS = (
    Target("max_cell_voltage", "forecasting-max-cell-voltage", "maximum cell voltage", MINUTE),
    Target("min_cell_voltage", "forecasting-min-cell-voltage", "minimum cell voltage", MINUTE),
    Target(
        "max_cell_temperature",
        "forecasting-max-cell-temperature",
        "maximum cell temperature",
        MINUTE,
    ),
    Target(
        "min_cell_temperature",
        "forecasting-min-cell-temperature",
        "minimum cell temperature",
        MINUTE,
    ),
    Target("sos", "forecasting-rack-sos", "SoS score", MINUTE),
    Target(
        "max_cell_voltage_day_ahead",
        "multi-step-forecasting-max-cell-voltage",
        "hourly maximum cell voltage over the next 24 hours",
        HOUR,
        day_ahead=True,
    ),
)
TEN_MINUTE_TARGETS = tuple(t for t in TARGETS if not t.day_ahead)
BY_NAME = {t.name: t for t in TARGETS}

BASELINES = ("persistence", "seasonal_naive")
TEN_MINUTE_MODELS = (*BASELINES, "linear", "lightgbm")
DAY_AHEAD_MODELS = (*BASELINES, "linear", "lightgbm")

# The gradient-boosted model's inputs: columns of ess.forecast(), all known at the issue time.
FEATURES = (
    "observed",
    "seasonal_naive",
    "lag_1",
    "lag_5",
    "lag_10",
    "mean_10",
    "std_10",
    "mean_60",
    "min_60",
    "max_60",
    "rack_current",
    "rack_soc",
    "charge_state",
    "bank_power",
    "ambient_temperature",
    "minute_of_day",
)
# the linear model's inputs, ess.forecast().linear_inputs, in this order
LINEAR_INPUTS = (
    "intercept",
    "observed - lag_1",
    "observed - lag_5",
    "observed - lag_10",
    "observed - mean_60",
    "seasonal_naive - observed",
    "rack_current / 100",
    "sin(minute_of_day)",
    "cos(minute_of_day)",
)
DAY_AHEAD_INPUTS = ("intercept", "observed", "seasonal_naive")
# the 24-hour gradient-boosted model's inputs per issue time and horizon (all known at the issue
# time): the value at t, the seasonal naive value of the target hour, the horizon in hours and
# the local hour of day at which the target hour ends
DAY_AHEAD_FEATURES = ("observed", "seasonal_naive", "horizon_hours", "target_hour_of_day")
