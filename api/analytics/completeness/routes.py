"""GET /api/ess/operating-sites/{site}/completeness/."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.completeness.parse import COMPLETENESS_PARAMETERS, parse_completeness
from api.analytics.completeness.sql import DayCompleteness, completeness_statement
from api.db import fetch
from api.params import DAY_RANGE_DOCS, query_doc, query_of
from api.replicas import reads

COMPLETENESS_DOCS = {
    **DAY_RANGE_DOCS,
    "sample_interval": query_doc(
        "sample-interval",
        "Expected time between rows of a series (default 1s: 86,400 a day)",
        "10s",
    ),
}


class CompletenessController(Controller):
    path = "/api/ess/operating-sites/{site:int}/completeness"
    tags = ["analytics"]
    parameters = COMPLETENESS_DOCS

    @get(
        "/",
        sync_to_thread=True,
        summary="Data completeness per local day and component",
        description="Rows stored against rows expected at 1 Hz (86,400 per series and day; "
        "a series is a rack, a bank, the PCS or the etc meters), or at sample-interval. "
        "Both dates are included (end-date defaults to start-date); "
        "today counts its elapsed seconds only, days before data_since or after retirement "
        "are left out. status: warning above 2 % missing, critical above 5 %.",
    )
    def completeness(self, request: Request, site: FromPath[int]) -> list[DayCompleteness]:
        site_id = request.app.state.catalog.require_site(site).site_id
        query = parse_completeness(site_id, query_of(request, COMPLETENESS_PARAMETERS))
        return fetch(reads(request), completeness_statement(query), DayCompleteness)
