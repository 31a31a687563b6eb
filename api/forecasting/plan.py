"""Plan step: the series a URL names and the parsed arguments -> one ess.forecast() call, its
work bounded before any SQL runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

from api.catalog.model import Catalog, Site
from api.errors import bad_parameter
from api.forecasting.parse import ForecastArgs
from api.forecasting.targets import Target

# rack x issue-time rows of one answer: a bank of 17 racks over two days at 1-minute steps
MAX_ROWS = 50_000


@dataclass(frozen=True)
class ForecastPlan:
    site: Site
    bank: int
    rack: int | None
    target: Target
    args: ForecastArgs


def plan_forecast(
    catalog: Catalog, site_id: int, bank: int, rack: int | None, target: Target, args: ForecastArgs
) -> ForecastPlan:
    """404 naming a site, bank or rack the catalog does not know; 400 beyond MAX_ROWS."""
    site = catalog.require_site(site_id)
    site.require_bank(bank)
    if rack is not None:
        site.require_rack(bank, rack)
    racks = 1 if rack is not None else site.rack_counts[bank]
    rows = math.ceil((args.end - args.start) / args.step) * racks
    if rows > MAX_ROWS:
        raise bad_parameter(
            "time-bucket-width",
            f"{rows} forecasts (issue times x racks); at most {MAX_ROWS}: use a longer step, "
            "a shorter window or one rack",
        )
    return ForecastPlan(site, bank, rack, target, args)
