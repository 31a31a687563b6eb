"""GET /api/ess/stats/socp/operating-sites/{site}/banks/{bank}/racks/[{rack}/]."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.series import requested_series
from api.analytics.socp.parse import CHARGE_STATUSES, PERIODS, SOCP_PARAMETERS, plan_socp
from api.analytics.socp.sql import SoCPItem, socp_statement
from api.db import fetch
from api.params import WINDOW_DOCS, query_doc, query_of
from api.replicas import reads

SOCP_DOCS = {
    "period": query_doc(
        "period",
        f"{', '.join(map(str, PERIODS))}: each item counts the period of that many local days "
        "ending with its day (default 1)",
        7,
    ),
    "charge_status": query_doc(
        "charge_status",
        "0 charge (current >= 2 A), 1 discharge (<= -2 A), 2 rest; default all three",
        0,
    ),
    "charge_status_name": query_doc(
        "charge-status",
        "The same filter by name: charge, discharge or rest (with charge_status, both must agree)",
        CHARGE_STATUSES[0],
    ),
}


def serve_socp(request: Request, site: int, bank: int, rack: int | None = None) -> list[SoCPItem]:
    series = requested_series(request, site, bank, rack)
    planned = plan_socp(series, query_of(request, SOCP_PARAMETERS), datetime.now(UTC))
    return fetch(reads(request), socp_statement(planned), SoCPItem, series.tz)


class SoCPController(Controller):
    path = "/api/ess/stats/socp/operating-sites/{site:int}/banks/{bank:int}/racks"
    tags = ["safety"]
    parameters = {**WINDOW_DOCS, **SOCP_DOCS}
    description = (
        "SoCP (State of Cell Position): per day, rack, operating state and SoC decile, how "
        "often each cell position was the rack's highest cell voltage over the period ending "
        "with that day (value, keyed by cell number, with the mean voltage, temperature and "
        "current at those moments), and both extremes ranked (positions). A cell that is "
        "often the max while charging or the min while discharging is a weak cell. The days: "
        "those whose local midnight lies in [start-time, end-time), or date, or else the last "
        "complete day before end-time (default: yesterday); time is the day."
    )

    @get("/", sync_to_thread=True, summary="SoCP of every rack of a bank")
    def bank_racks(
        self, request: Request, site: FromPath[int], bank: FromPath[int]
    ) -> list[SoCPItem]:
        return serve_socp(request, site, bank)

    @get("/{rack:int}/", sync_to_thread=True, summary="SoCP of one rack")
    def rack(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> list[SoCPItem]:
        return serve_socp(request, site, bank, rack)
