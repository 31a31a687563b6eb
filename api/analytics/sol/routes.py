"""GET /api/ess/stats/forecasting-sol/operating-sites/{site}/banks/[{bank}/[racks/{rack}/]]."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.series import requested_series
from api.analytics.sol.parse import FIT_DAYS_DEFAULT, SOL_PARAMETERS, parse_sol
from api.analytics.sol.respond import SoLAnswer, sol_answer
from api.analytics.sol.sql import SoLRows, sol_statement
from api.db import fetch
from api.params import DAY_RANGE_DOCS, query_doc, query_of

SOL_DOCS = {
    **DAY_RANGE_DOCS,
    "fit_days": query_doc(
        "fit-days", f"Days of history the trend is fitted to ({FIT_DAYS_DEFAULT})", 90
    ),
}


def serve_sol(
    request: Request, site: int, bank: int | None = None, rack: int | None = None
) -> SoLAnswer:
    series = requested_series(request, site, bank, rack)
    planned = parse_sol(series, query_of(request, SOL_PARAMETERS))
    (rows,) = fetch(request.app.state.pool, sol_statement(planned), SoLRows)
    return sol_answer(planned, rows)


class SoLController(Controller):
    path = "/api/ess/stats/forecasting-sol/operating-sites/{site:int}/banks"
    tags = ["safety"]
    parameters = SOL_DOCS
    description = (
        "SoL (State of Life) = (SoH - 80) x 5 per local day: observed days, then a forecast "
        "from a least-squares trend with a 95 % prediction band (top_limit_value, "
        "bottom_limit_value), and the trend model with its backtest against persistence. "
        "end-date is the last day included; days after the last day with data are forecast."
    )

    @get("/", sync_to_thread=True, summary="SoL of every bank")
    def banks(self, request: Request, site: FromPath[int]) -> SoLAnswer:
        return serve_sol(request, site)

    @get("/{bank:int}/", sync_to_thread=True, summary="SoL of one bank")
    def bank(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> SoLAnswer:
        return serve_sol(request, site, bank)

    @get("/{bank:int}/racks/{rack:int}/", sync_to_thread=True, summary="SoL of one rack")
    def rack(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> SoLAnswer:
        return serve_sol(request, site, bank, rack)
