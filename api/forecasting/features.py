"""Model inputs computed in numpy.

Training's samples of the 10-minute forecasts come from one read per site of every target's minute
values (ess.forecast_minute_values): the lags, rolling statistics and linear inputs are computed
here in numpy, by the definitions of ess.forecast() (sql/functions/forecast.sql), which computes
the same features when the API serves. Training used to call ess.forecast() once per target: its
window functions over eight days dominated `make run` on the embedded engine.
tests/test_forecasting.py checks that both give the same numbers."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from api.forecasting.frames import DayAheadRow
from api.forecasting.targets import (
    DAY_AHEAD_FEATURES,
    FEATURES,
    HORIZON,
    MINUTE,
    TEN_MINUTE_TARGETS,
)

# ess.forecast()'s frames, in minutes before the issue time
LAGS = (1, 5, 10)
SHORT_WINDOW, LONG_WINDOW = 10, 60
SEASON = 1440 - HORIZON // MINUTE  # the seasonal naive value: 24 h before the target time
AHEAD = HORIZON // MINUTE
EXOGENOUS = ("rack_current", "rack_soc", "bank_power", "ambient_temperature")
# charge state of ExSoS (ess.forecast()): charge at or above +2 A, discharge at or below -2 A
CHARGE_CURRENT = 2.0

MINUTE_VALUES_SQL = (
    "SELECT bank_id, rack_id, value_time, "
    + ", ".join(t.name for t in TEN_MINUTE_TARGETS)
    + ", "
    + ", ".join(EXOGENOUS)
    + " FROM ess.forecast_minute_values(%s, NULL, NULL, %s, %s, TRUE)"
    " ORDER BY bank_id, rack_id, value_time"
)


@dataclass(frozen=True)
class MinuteGrid:
    """Every rack (row, in bank and rack order) and minute-end (column, `first` + j minutes) of
    a site: each target's and exogenous value, NaN where nothing is stored."""

    first: datetime
    values: dict[str, np.ndarray]  # column name -> (racks, minutes)
    minute_of_day: np.ndarray  # local, per column
    sin_of_day: np.ndarray  # sin(2 pi minute_of_day / 1440), by the C library as in SQL
    cos_of_day: np.ndarray
    local_day: np.ndarray  # date ordinal of the local day, per column


@dataclass(frozen=True)
class TenMinuteFrame:
    """One sample per rack and issue time t in the window where the value at t is stored."""

    day: np.ndarray  # local day of the target's minute (the backtest's day), NaN past `end`
    observed: np.ndarray
    seasonal_naive: np.ndarray
    observed_at_target: np.ndarray
    features: np.ndarray  # FEATURES columns
    linear_inputs: np.ndarray  # LINEAR_INPUTS columns


def read_minute_grid(
    conn: psycopg.Connection, site: int, start: datetime, end: datetime, tz: ZoneInfo
) -> MinuteGrid:
    """The minute values issue times in [start, end) read: from the seasonal lag before `start`
    to the target time after `end`."""
    first = start - SEASON * MINUTE
    minutes = (end + HORIZON - first) // MINUTE
    rows = conn.execute(MINUTE_VALUES_SQL, (site, first, end + HORIZON)).fetchall()
    names = [t.name for t in TEN_MINUTE_TARGETS] + list(EXOGENOUS)
    racks = {rack: n for n, rack in enumerate(dict.fromkeys((r[0], r[1]) for r in rows))}
    row = np.array([racks[(r[0], r[1])] for r in rows], dtype=np.intp)
    column = np.array([(r[2] - first) // MINUTE for r in rows], dtype=np.intp)
    values = {}
    for k, name in enumerate(names, start=3):
        grid = np.full((len(racks), minutes), np.nan)
        grid[row, column] = np.array([r[k] for r in rows], dtype=float)
        values[name] = grid
    local = [(first + j * MINUTE).astimezone(tz) for j in range(minutes)]
    minute_of_day = [t.hour * 60 + t.minute for t in local]
    angles = [2 * math.pi * m / 1440.0 for m in minute_of_day]
    return MinuteGrid(
        first=first,
        values=values,
        minute_of_day=np.array(minute_of_day, dtype=float),
        sin_of_day=np.array([math.sin(a) for a in angles]),
        cos_of_day=np.array([math.cos(a) for a in angles]),
        local_day=np.array([t.date().toordinal() for t in local], dtype=float),
    )


def ten_minute_frame(
    grid: MinuteGrid, target: str, start: datetime, end: datetime
) -> TenMinuteFrame:
    y = grid.values[target]
    first_issue = (start - grid.first) // MINUTE
    last_issue = (end - grid.first) // MINUTE
    issue = np.zeros_like(y, dtype=bool)
    issue[:, first_issue:last_issue] = True
    rack, t = np.nonzero(issue & ~np.isnan(y))  # rack by rack, in time order
    observed = y[rack, t]
    lags = {k: y[rack, t - k] for k in LAGS}
    seasonal = y[rack, t - SEASON]
    window = y[rack[:, None], t[:, None] + np.arange(1 - LONG_WINDOW, 1)]
    mean_10, std_10 = frame_mean_and_deviation(window[:, -SHORT_WINDOW:])
    mean_60, _ = frame_mean_and_deviation(window)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an empty frame is NaN, as in SQL
        rolling = {
            "mean_10": mean_10,
            "std_10": std_10,
            "mean_60": mean_60,
            "min_60": np.nanmin(window, axis=1),
            "max_60": np.nanmax(window, axis=1),
        }
    exogenous = {name: grid.values[name][rack, t] for name in EXOGENOUS}
    current = exogenous["rack_current"]
    minute_of_day = grid.minute_of_day[t]
    columns = {
        "observed": observed,
        "seasonal_naive": seasonal,
        **{f"lag_{k}": lag for k, lag in lags.items()},
        **rolling,
        **exogenous,
        "charge_state": np.where(
            current >= CHARGE_CURRENT, 1.0, np.where(current <= -CHARGE_CURRENT, -1.0, 0.0)
        ),
        "minute_of_day": minute_of_day,
    }
    linear_inputs = np.column_stack(
        [
            np.ones_like(observed),
            *(np.nan_to_num(observed - lags[k]) for k in LAGS),
            np.nan_to_num(observed - mean_60),
            np.nan_to_num(seasonal - observed),
            np.nan_to_num(current) / 100.0,
            grid.sin_of_day[t],
            grid.cos_of_day[t],
        ]
    )
    target = t + AHEAD
    return TenMinuteFrame(
        # the value at `target` is the minute that starts at column target - 1
        day=np.where(target <= last_issue, grid.local_day[target - 1], np.nan),
        observed=observed,
        seasonal_naive=seasonal,
        observed_at_target=y[rack, target],
        features=np.column_stack([columns[name] for name in FEATURES]),
        linear_inputs=linear_inputs,
    )


def frame_mean_and_deviation(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """avg() and stddev_pop() of each row's values, NaN skipped, as PostgreSQL computes them for
    float8 (float8_accum: N, Sx and the Youngs-Cramer Sxx, accumulated in time order, with no
    moving-frame shortcut), so that training sees bit for bit the features served."""
    n = np.zeros(len(frame))
    sx = np.zeros(len(frame))
    sxx = np.zeros(len(frame))
    for values in frame.T:
        present = ~np.isnan(values)
        x = np.where(present, values, 0.0)
        count = n + present
        total = sx + x
        with np.errstate(invalid="ignore", divide="ignore"):
            step = x * count - total
            sxx = np.where(present & (n > 0), sxx + step * step / (count * n), sxx)
        n, sx = count, total
    with np.errstate(invalid="ignore", divide="ignore"):
        empty = n == 0
        return np.where(empty, np.nan, sx / n), np.where(empty, np.nan, np.sqrt(sxx / n))


def day_ahead_features(rows: list[DayAheadRow], tz: ZoneInfo) -> np.ndarray:
    """DAY_AHEAD_FEATURES of every row's horizons (row by row, horizon 1 first), for training
    and for the API alike."""
    return np.array(
        [
            [row.observed, seasonal, h, target.astimezone(tz).hour]
            for row in rows
            for h, (target, seasonal) in enumerate(
                zip(row.target_times, row.seasonal_naive, strict=True), start=1
            )
        ],
        dtype=float,
    ).reshape(-1, len(DAY_AHEAD_FEATURES))
