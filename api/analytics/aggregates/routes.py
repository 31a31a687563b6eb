"""GET .../aggregate/ (any component, any metrics, any bucket) and the specification's five
average endpoints (avg-bank-soc, avg-rack-soc, avg-bank-soh, avg-rack-soh, avg-bank-power),
which are that endpoint with the component, series and metric fixed by the URL."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromPath

from api.analytics.aggregates.parse import (
    AGGREGATE_PARAMETERS,
    BUCKET_PARAMETERS,
    DEFAULT_WIDTH,
    AggregateRequest,
    aggregate_request,
    parse_aggregate,
)
from api.analytics.aggregates.plan import StoredLevel, plan
from api.analytics.aggregates.sql import aggregate_levels, build_query, stored_levels
from api.db import fetch
from api.params import WINDOW_DOCS, bucket_width_doc, query_doc, query_of
from api.replicas import reads

BUCKET_DOCS = {
    **WINDOW_DOCS,
    **bucket_width_doc(DEFAULT_WIDTH),
    "fill": query_doc(
        "fill",
        "Empty buckets: none (omit, default), null, locf (carry the last value forward), "
        "linear (interpolate)",
        "linear",
    ),
}
AGGREGATE_DOCS = {
    "component": query_doc("component", "bank, rack, pcs or etc", "rack"),
    "metrics": query_doc("metrics", "function:column, ...", "avg:rack_soc,max:rack_current"),
    "bank": query_doc("bank", "Only this bank", 1, int | None),
    "rack": query_doc("rack", "Only this rack of the bank", 3, int | None),
}


def levels_of(request: Request) -> list[StoredLevel]:
    """The continuous aggregates, read once per application (they change only by migration)."""
    state = request.app.state
    if state.get("aggregate_levels") is None:
        state.aggregate_levels = stored_levels(reads(request))
    return state.aggregate_levels


def answer(request: Request, aggregate: AggregateRequest) -> Response:
    """levels (the database's verdict) -> plan -> SQL -> JSON, the source in a header. The
    question and the statement share one pooled connection (one checkout, one reset)."""
    levels = levels_of(request)
    with reads(request).connection() as conn:
        chosen = plan(aggregate, aggregate_levels(conn, aggregate, levels))
        items = fetch(conn, build_query(chosen), dict, aggregate.tz)
    return Response(
        content=msgspec.json.encode(items),
        media_type="application/json",
        headers={"Aggregate-Source": chosen.source},
    )


def serve_series(
    request: Request, site: int, component: str, bank: int, rack: int | None, metric: str
) -> Response:
    """A specification URL: series and metric fixed by it, buckets from the query."""
    found = request.app.state.catalog.require_site(site)
    values = query_of(request, BUCKET_PARAMETERS)
    return answer(request, aggregate_request(found, component, bank, rack, metric, values))


class AggregateController(Controller):
    path = "/api/ess/operating-sites/{site:int}/aggregate"
    tags = ["analytics"]
    parameters = {**BUCKET_DOCS, **AGGREGATE_DOCS}

    @get(
        "/",
        sync_to_thread=True,
        summary="Any metrics of any component per local time bucket",
        description="Items {time, [bank_id, rack_id,] <function>_<column>...}, one per bucket "
        "(and series, when bank or rack is not fixed). Functions: avg, min, max, sum, count, "
        "first, last. Answered from the coarsest continuous aggregate that gives the exact "
        "result (header Aggregate-Source), raw rows otherwise.",
    )
    def aggregate(self, request: Request, site: FromPath[int]) -> Response:
        found = request.app.state.catalog.require_site(site)
        return answer(request, parse_aggregate(found, query_of(request, AGGREGATE_PARAMETERS)))


class AverageController(Controller):
    """The specification's averages: the aggregate endpoint with the series and metric fixed."""

    path = "/api/ess/operating-sites/{site:int}"
    tags = ["analytics"]
    parameters = BUCKET_DOCS

    @get("/banks/{bank:int}/stats/avg-bank-soc/", sync_to_thread=True, summary="Average bank SoC")
    def avg_bank_soc(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> Response:
        return serve_series(request, site, "bank", bank, None, "avg:bank_soc")

    @get("/banks/{bank:int}/stats/avg-bank-soh/", sync_to_thread=True, summary="Average bank SoH")
    def avg_bank_soh(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> Response:
        return serve_series(request, site, "bank", bank, None, "avg:bank_soh")

    @get(
        "/banks/{bank:int}/stats/avg-bank-power/", sync_to_thread=True, summary="Average bank power"
    )
    def avg_bank_power(
        self, request: Request, site: FromPath[int], bank: FromPath[int]
    ) -> Response:
        return serve_series(request, site, "bank", bank, None, "avg:bank_power")

    @get(
        "/banks/{bank:int}/racks/{rack:int}/stats/avg-rack-soc/",
        sync_to_thread=True,
        summary="Average rack SoC",
    )
    def avg_rack_soc(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> Response:
        return serve_series(request, site, "rack", bank, rack, "avg:rack_soc")

    @get(
        "/banks/{bank:int}/racks/{rack:int}/stats/avg-rack-soh/",
        sync_to_thread=True,
        summary="Average rack SoH",
    )
    def avg_rack_soh(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> Response:
        return serve_series(request, site, "rack", bank, rack, "avg:rack_soh")
