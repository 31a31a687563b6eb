"""GET .../aggregate/ (any component, any metrics, any bucket) and the specification's five
average endpoints (avg-bank-soc, avg-rack-soc, avg-bank-soh, avg-rack-soh, avg-bank-power),
which are that endpoint with the component, series and metric fixed by the URL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, QueryParameter

from api.analytics.aggregates import (
    COMPONENTS,
    FILL_MODES,
    AggregateLevel,
    AggregateRequest,
    load_levels,
    parse_metrics,
    plan,
    run,
)
from api.catalog.model import Site
from api.errors import bad_parameter
from api.params import parse_duration, parse_window

DEFAULT_WIDTH = "1 hour"


@dataclass(frozen=True)
class BucketQuery:
    """The query parameters every aggregate endpoint shares."""

    width: str | None
    start_time: str | None
    end_time: str | None
    date: str | None
    fill: str | None


def bucket_query(
    width: str | None = QueryParameter(
        name="time-bucket-width",
        default=None,
        description="Bucket width: 1hour, 1 hour, 15 minutes, 1day, 30s, PT1H (default 1 hour)",
    ),
    start_time: str | None = QueryParameter(
        name="start-time",
        default=None,
        description="ISO 8601; without an offset, the site's local time. Window is [start, end)",
    ),
    end_time: str | None = QueryParameter(name="end-time", default=None),
    date: str | None = QueryParameter(
        name="date", default=None, description="One local day instead of start/end-time"
    ),
    fill: str | None = QueryParameter(
        name="fill",
        default=None,
        description="Empty buckets: none (omit, default), null, locf (carry the last value "
        "forward), linear (interpolate)",
    ),
) -> BucketQuery:
    return BucketQuery(width, start_time, end_time, date, fill)


def aggregate_request(
    site: Site,
    component: str,
    bank: int | None,
    rack: int | None,
    metrics: str | None,
    buckets: BucketQuery,
) -> AggregateRequest:
    """Parse and validate against the catalog (no database access)."""
    if component not in COMPONENTS:
        raise bad_parameter("component", f"{component!r} is not one of {', '.join(COMPONENTS)}")
    if not site.columns.get(component):
        raise bad_parameter(
            "component", f"operating site {site.site_id} reports no {component} data"
        )
    if bank is not None:
        if component in ("pcs", "etc"):
            raise bad_parameter("bank", f"{component} rows are per site, not per bank")
        site.require_bank(bank)
    if rack is not None:
        if component != "rack":
            raise bad_parameter("rack", "rack applies to component=rack only")
        if bank is None:
            raise bad_parameter("bank", "give the bank of the rack")
        site.require_rack(bank, rack)
    fill = (buckets.fill or "none").strip().lower()
    if fill not in FILL_MODES:
        raise bad_parameter("fill", f"{buckets.fill!r} is not one of {', '.join(FILL_MODES)}")
    tz = ZoneInfo(site.timezone)
    window = parse_window(
        buckets.start_time, buckets.end_time, buckets.date, tz, require_bounds=True
    )
    width = parse_duration(buckets.width or DEFAULT_WIDTH, "time-bucket-width")
    if width % timedelta(seconds=1):
        raise bad_parameter("time-bucket-width", "the width must be a whole number of seconds")
    return AggregateRequest(
        site=site,
        component=component,
        bank=bank,
        rack=rack,
        metrics=parse_metrics(metrics, site, component),
        width=width,
        start=window.start,  # type: ignore[arg-type]
        end=window.end,  # type: ignore[arg-type]
        fill=fill,
    )


def aggregate_levels(request: Request) -> tuple[AggregateLevel, ...]:
    """The continuous aggregates, read once per application (they change only by migration)."""
    state = request.app.state
    levels = state.get("aggregate_levels")
    if levels is None:
        with state.pool.connection() as conn:
            levels = state.aggregate_levels = load_levels(conn)
    return levels


def answer(request: Request, aggregate: AggregateRequest) -> Response:
    chosen = plan(aggregate, aggregate_levels(request))
    with request.app.state.pool.connection() as conn:
        items = run(conn, chosen)
    return Response(
        content=msgspec.json.encode(items),
        media_type="application/json",
        headers={"Aggregate-Source": chosen.source},
    )


def _site(request: Request, site: int) -> Site:
    return request.app.state.catalog.require_site(site)


class AggregateController(Controller):
    path = "/api/ess/operating-sites/{site:int}"
    tags = ["analytics"]
    dependencies = {"buckets": Provide(bucket_query, sync_to_thread=False)}

    @get(
        "/aggregate/",
        sync_to_thread=True,
        summary="Any metrics of any component per local time bucket",
        description="Items {time, [bank_id, rack_id,] <function>_<column>...}, one per bucket "
        "(and series, when bank or rack is not fixed). Functions: avg, min, max, sum, count, "
        "first, last. Answered from the coarsest continuous aggregate that gives the exact "
        "result (header Aggregate-Source), raw rows otherwise.",
    )
    def aggregate(
        self,
        request: Request,
        site: FromPath[int],
        buckets: NamedDependency[BucketQuery],
        component: str = QueryParameter(name="component", description="bank, rack, pcs or etc"),
        metrics: str | None = QueryParameter(
            name="metrics", default=None, description="e.g. avg:rack_soc,max:rack_current"
        ),
        bank: int | None = QueryParameter(name="bank", default=None),
        rack: int | None = QueryParameter(name="rack", default=None),
    ) -> Response:
        parsed = aggregate_request(_site(request, site), component, bank, rack, metrics, buckets)
        return answer(request, parsed)

    @get("/banks/{bank:int}/stats/avg-bank-soc/", sync_to_thread=True, summary="Average bank SoC")
    def avg_bank_soc(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        buckets: NamedDependency[BucketQuery],
    ) -> Response:
        return answer(request, self._bank(request, site, bank, "avg:bank_soc", buckets))

    @get("/banks/{bank:int}/stats/avg-bank-soh/", sync_to_thread=True, summary="Average bank SoH")
    def avg_bank_soh(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        buckets: NamedDependency[BucketQuery],
    ) -> Response:
        return answer(request, self._bank(request, site, bank, "avg:bank_soh", buckets))

    @get(
        "/banks/{bank:int}/stats/avg-bank-power/",
        sync_to_thread=True,
        summary="Average bank power",
    )
    def avg_bank_power(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        buckets: NamedDependency[BucketQuery],
    ) -> Response:
        return answer(request, self._bank(request, site, bank, "avg:bank_power", buckets))

    @get(
        "/banks/{bank:int}/racks/{rack:int}/stats/avg-rack-soc/",
        sync_to_thread=True,
        summary="Average rack SoC",
    )
    def avg_rack_soc(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        rack: FromPath[int],
        buckets: NamedDependency[BucketQuery],
    ) -> Response:
        return answer(request, self._rack(request, site, bank, rack, "avg:rack_soc", buckets))

    @get(
        "/banks/{bank:int}/racks/{rack:int}/stats/avg-rack-soh/",
        sync_to_thread=True,
        summary="Average rack SoH",
    )
    def avg_rack_soh(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        rack: FromPath[int],
        buckets: NamedDependency[BucketQuery],
    ) -> Response:
        return answer(request, self._rack(request, site, bank, rack, "avg:rack_soh", buckets))

    @staticmethod
    def _bank(
        request: Request, site: int, bank: int, metric: str, buckets: BucketQuery
    ) -> AggregateRequest:
        return aggregate_request(_site(request, site), "bank", bank, None, metric, buckets)

    @staticmethod
    def _rack(
        request: Request, site: int, bank: int, rack: int, metric: str, buckets: BucketQuery
    ) -> AggregateRequest:
        return aggregate_request(_site(request, site), "rack", bank, rack, metric, buckets)
