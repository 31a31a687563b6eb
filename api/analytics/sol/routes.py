"""GET /api/ess/stats/forecasting-sol/operating-sites/{site}/banks/[{bank}/[racks/{rack}/]]
(the bare list of days, as the earlier service answered) and the same under
/api/ess/stats/forecasting-sol-detail/ (the days with the trend models and their backtest)."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.series import requested_series
from api.analytics.sol.parse import FIT_DAYS_DEFAULT, SOL_PARAMETERS, SoLRequest, parse_sol
from api.analytics.sol.respond import SoLAnswer, SoLItem, sol_answer, sol_items
from api.analytics.sol.sql import DayRow, ModelRow, sol_days_statement, sol_models_statement
from api.db import fetch
from api.params import HALF_OPEN_DAY_RANGE_DOCS, query_doc, query_of
from api.replicas import reads

SOL_DOCS = {
    **HALF_OPEN_DAY_RANGE_DOCS,
    "fit_days": query_doc(
        "fit-days", f"Days of history the trend is fitted to ({FIT_DAYS_DEFAULT})", 90
    ),
}
DAYS_DESCRIPTION = (
    "SoL (State of Life) = (SoH - 80) x 5 per local day in [start-date, end-date) (end-date "
    "excluded): observed days, then days forecast from a least-squares trend with a 95 % "
    "prediction band (top_limit_value, bottom_limit_value); kind tells which. "
)


def sol_request(
    request: Request, site: int, bank: int | None = None, rack: int | None = None
) -> SoLRequest:
    series = requested_series(request, site, bank, rack)
    return parse_sol(series, query_of(request, SOL_PARAMETERS))


def serve_sol_days(
    request: Request, site: int, bank: int | None = None, rack: int | None = None
) -> list[SoLItem]:
    planned = sol_request(request, site, bank, rack)
    return sol_items(planned, fetch(reads(request), sol_days_statement(planned), DayRow))


def serve_sol_detail(
    request: Request, site: int, bank: int | None = None, rack: int | None = None
) -> SoLAnswer:
    planned = sol_request(request, site, bank, rack)
    days = fetch(reads(request), sol_days_statement(planned), DayRow)
    models = fetch(reads(request), sol_models_statement(planned), ModelRow)
    return sol_answer(planned, days, models)


class SoLController(Controller):
    path = "/api/ess/stats/forecasting-sol/operating-sites/{site:int}/banks"
    tags = ["safety"]
    parameters = SOL_DOCS
    description = DAYS_DESCRIPTION + (
        "A bare list; the trend models and their backtest: /api/ess/stats/forecasting-sol-detail/."
    )

    @get("/", sync_to_thread=True, summary="SoL of every bank")
    def banks(self, request: Request, site: FromPath[int]) -> list[SoLItem]:
        return serve_sol_days(request, site)

    @get("/{bank:int}/", sync_to_thread=True, summary="SoL of one bank")
    def bank(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> list[SoLItem]:
        return serve_sol_days(request, site, bank)

    @get("/{bank:int}/racks/{rack:int}/", sync_to_thread=True, summary="SoL of one rack")
    def rack(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> list[SoLItem]:
        return serve_sol_days(request, site, bank, rack)


class SoLDetailController(Controller):
    path = "/api/ess/stats/forecasting-sol-detail/operating-sites/{site:int}/banks"
    tags = ["safety"]
    parameters = SOL_DOCS
    description = DAYS_DESCRIPTION + (
        "The days (items) with the method, and the trend model of each series with its "
        "backtest against persistence (models)."
    )

    @get("/", sync_to_thread=True, summary="SoL of every bank, with the trend models")
    def banks(self, request: Request, site: FromPath[int]) -> SoLAnswer:
        return serve_sol_detail(request, site)

    @get("/{bank:int}/", sync_to_thread=True, summary="SoL of one bank, with its trend model")
    def bank(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> SoLAnswer:
        return serve_sol_detail(request, site, bank)

    @get(
        "/{bank:int}/racks/{rack:int}/",
        sync_to_thread=True,
        summary="SoL of one rack, with its trend model",
    )
    def rack(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> SoLAnswer:
        return serve_sol_detail(request, site, bank, rack)
