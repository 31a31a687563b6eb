"""Parse step of SoL: the days asked for, [start-date, end-date) as the earlier service's
(future days are forecast), and the fit length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from api.analytics.series import Series
from api.params import parse_day_range, parse_int

SOL_PARAMETERS = ("start-date", "end-date", "fit-days")
MAX_DAYS = 3 * 366 + 1
FIT_DAYS_DEFAULT = 90
FIT_DAYS_RANGE = (7, 730)


@dataclass(frozen=True)
class SoLRequest:
    series: Series
    first: date
    last: date
    fit_days: int


def parse_sol(series: Series, values: dict[str, str]) -> SoLRequest:
    first, last = parse_day_range(
        values.get("start-date"), values.get("end-date"), max_days=MAX_DAYS, end_excluded=True
    )
    fit_days = parse_int(values.get("fit-days"), "fit-days", *FIT_DAYS_RANGE)
    return SoLRequest(series, first, last, fit_days or FIT_DAYS_DEFAULT)
