"""Hand-made operating data for the safety-analytics tests: a quiet rack at rest, with the
columns a test cares about overridden by constants or by functions of the second."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

# A healthy rack at rest, mid SoC, well inside every protection limit and SoS release value.
QUIET_RACK = {
    "rack_soc": 50.0,
    "rack_soh": 98.0,
    "rack_voltage": 880.0,
    "rack_current": 0.0,
    "rack_max_cell_voltage": 3.70,
    "rack_max_cell_voltage_position": 17.0,
    "rack_min_cell_voltage": 3.67,
    "rack_min_cell_voltage_position": 5.0,
    "rack_cell_voltage_gap": 0.03,
    "rack_cell_voltage_average": 3.685,
    "rack_max_cell_temperature": 30.0,
    "rack_max_cell_temperature_position": 3.0,
    "rack_min_cell_temperature": 24.0,
    "rack_min_cell_temperature_position": 9.0,
    "rack_cell_temperature_gap": 6.0,
}

Value = float | int | None | Callable[[int], float | int | None]


def rack_rows(
    site_id: int,
    bank_id: int,
    rack_id: int,
    start: datetime,
    seconds: int,
    step: int = 1,
    skip: Iterable[int] = (),
    **columns: Value,
) -> list[dict]:
    """One row every `step` seconds for `seconds` seconds (except the seconds in `skip`); each
    column is QUIET_RACK's value unless given as a constant or as a function of the second."""
    skipped = set(skip)
    spec = {**QUIET_RACK, **columns}
    rows = []
    for second in range(0, seconds, step):
        if second in skipped:
            continue
        row = {"ts": start + timedelta(seconds=second), "site_id": site_id}
        row |= {"bank_id": bank_id, "rack_id": rack_id}
        for name, value in spec.items():
            row[name] = value(second) if callable(value) else value
        rows.append(row)
    return rows
