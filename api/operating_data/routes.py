"""The specification's query and download URLs as thin handlers over the shared machinery.

`operating_data_controllers()` builds the three controllers (pages, latest rows, CSV
downloads) for any URL prefix and any Dataset source; the operating-data endpoints use it with
the hypertables, the de-identified endpoints with their view (see api/operating_data/__init__).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from litestar import Controller, Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import PathParameter
from litestar.response import Stream

from api.catalog.model import COMPONENTS
from api.errors import PROBLEM_JSON, Problem, not_found
from api.operating_data.dataset import Dataset, operating_dataset
from api.operating_data.download import download_response, whole_list_response
from api.operating_data.execute import read_latest, read_page
from api.operating_data.parse import (
    WholeListArgs,
    parse_download_args,
    parse_latest_args,
    parse_page_args,
)
from api.operating_data.plan import fix_series, plan_page, select
from api.operating_data.respond import (
    Page,
    download_format,
    page_links,
    rows_response,
    wants_csv,
)
from api.operating_data.settings import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, OperatingDataSettings
from api.params import WINDOW_DOCS, query_doc
from api.replicas import reads

DatasetFor = Callable[[Request, int, str], Dataset]


def settings_of(request: Request) -> OperatingDataSettings:
    """The app's settings (made at its creation; tests replace them)."""
    return request.app.state.operating_data


def operating_dataset_for(request: Request, site_id: int, component: str) -> Dataset:
    catalog = request.app.state.catalog
    return operating_dataset(catalog, catalog.require_site(site_id), component)


# -- the shared handlers: parse -> plan -> SQL -> respond


def serve_page(
    request: Request, dataset: Dataset, bank: int | None = None, rack: int | None = None
) -> Response:
    settings = settings_of(request)
    fixed = fix_series(dataset, bank, rack)
    args = parse_page_args(dataset, request.query_params.multi_items(), settings.download_max_span)
    selection = select(dataset, args.selected, fixed)
    if isinstance(args, WholeListArgs):
        return whole_list_response(
            request,
            reads(request),
            selection,
            "csv" if wants_csv(request) else "json",
            settings.download_slice_rows,
        )
    plan = plan_page(selection, args, settings, json=not wants_csv(request))
    data = read_page(reads(request), plan)
    if plan.offset and not data.lines:
        raise not_found("page", f"page {args.page} is past the last page of this window")
    return rows_response(request, data, page_links(request, settings, plan, data))


def serve_latest(
    request: Request, dataset: Dataset, bank: int | None = None, rack: int | None = None
) -> Response:
    fixed = fix_series(dataset, bank, rack)
    selected = parse_latest_args(dataset, request.query_params.multi_items())
    selection = select(dataset, selected, fixed)
    data = read_latest(reads(request), selection, json=not wants_csv(request))
    return rows_response(request, data)


async def serve_download(request: Request, dataset: Dataset) -> Stream:
    settings = settings_of(request)
    args = parse_download_args(
        dataset, request.query_params.multi_items(), settings.download_max_span
    )
    selection = select(dataset, args.selected, fix_series(dataset, args.bank, args.rack))
    return await download_response(
        request,
        reads(request),
        selection,
        download_format(request, args.format),
        settings.download_slice_rows,
    )


# -- OpenAPI: every query parameter documented once, with an example


SELECTION_DOCS = {
    "fields": query_doc(
        "fields",
        "Comma-separated columns to return, in this order, among the site's own columns "
        "(listed by GET /api/ess/operating-sites/{site}/). timestamp and the key columns "
        "(bank_id, rack_id) always come first. An unknown name is a 400 listing the valid ones.",
        "rack_soc,rack_voltage,rack_current",
    ),
    "omit": query_doc(
        "omit",
        "Comma-separated columns to leave out (instead of fields).",
        "rack_module_fault",
    ),
    "tz": query_doc(
        "tz",
        "IANA time zone of the output timestamps' offsets; default: the site's zone. Times "
        "given without an offset are always read in the site's zone.",
        "UTC",
    ),
}
PAGING_DOCS = {
    "page": query_doc(
        "page",
        "Page number (1-based), as in the specification: exactly the rows after skipping "
        "(page - 1) x page_size. Deep pages are located from per-minute row counts instead of "
        "skipping row by row (capped at ESS_MAX_OFFSET_ROWS); the next/previous links use a "
        "cursor, which costs the same at any depth.",
        2,
        int | None,
    ),
    "page_size": query_doc(
        "page_size",
        f"Rows per page, 1 to {PAGE_SIZE_MAX} (default {PAGE_SIZE_DEFAULT}).",
        500,
        int | None,
    ),
    "cursor": query_doc(
        "cursor",
        "Opaque keyset cursor from a next or previous link; signed, bound to its query.",
        "kwGlYWZ0ZXLPAAXeUdVLsgCQ3q2-7w",
    ),
    "count": query_doc(
        "count",
        "Opt-in total: exact (counts the window; bounded windows only) or estimated (the row "
        "rate of the first and last ten minutes stored in the window, times its length).",
        "exact",
    ),
    "no_page": query_doc(
        "no_page",
        "Present (with any value, even empty): no pages; the answer is every row of the window "
        "as one bare JSON list (CSV with Accept: text/csv), streamed. Needs a bounded window "
        "of at most ESS_DOWNLOAD_MAX_DAYS, like a download; refused together with page, "
        "page_size, cursor or count.",
        "true",
    ),
}
DOWNLOAD_DOCS = {
    "bank": query_doc("bank", "Only this bank (bank and rack downloads).", 1, int | None),
    "rack": query_doc("rack", "Only this rack of the bank (rack downloads).", 3, int | None),
    "format": query_doc(
        "format",
        "csv (default), parquet or arrow (Arrow IPC stream); without it, the Accept header "
        "chooses: text/csv, application/vnd.apache.parquet or "
        "application/vnd.apache.arrow.stream.",
        "parquet",
    ),
    "signed": query_doc(
        "signed",
        "Signature of a signed link from POST /api/ess/download-links/ (raw downloads from a "
        "browser, instead of the Authorization header); added by the server, never by hand.",
        "kpLOZ...",
    ),
}
Site = Annotated[
    int,
    PathParameter(
        description="Operating site id (GET /api/ess/operating-sites/ lists them)",
        examples=[Example(value=2)],
    ),
]
Bank = Annotated[int, PathParameter(description="Bank number", examples=[Example(value=1)])]
Rack = Annotated[
    int, PathParameter(description="Rack number within the bank", examples=[Example(value=3)])
]
DataType = Annotated[
    str, PathParameter(description="bank, rack, pcs or etc", examples=[Example(value="rack")])
]
PROBLEMS = {
    400: ResponseSpec(
        Problem, description="Invalid parameter, named in `parameter`", media_type=PROBLEM_JSON
    ),
    404: ResponseSpec(
        Problem, description="No such site, bank, rack or page", media_type=PROBLEM_JSON
    ),
    503: ResponseSpec(
        Problem,
        description="Database unavailable or statement timeout; retry after Retry-After",
        media_type=PROBLEM_JSON,
    ),
}
PAGE_NOTE = (
    " Answers JSON {count?, next, previous, results}; with `Accept: text/csv` the same rows "
    "as CSV (links in the Link header). With no_page: a bare JSON list of every row of the "
    "window (the same row objects as results)."
)


def operating_data_controllers(
    *, prefix: str, download_prefix: str, dataset_for: DatasetFor, tag: str
) -> list[type[Controller]]:
    """Controllers for pages, latest rows and downloads of the datasets `dataset_for` gives."""

    class Pages(Controller):
        path = prefix
        tags = [tag]
        parameters = {**SELECTION_DOCS, **WINDOW_DOCS, **PAGING_DOCS}

        @get(
            "/{site:int}/banks/{bank:int}",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Bank rows",
            description="Rows of one bank, in time order." + PAGE_NOTE,
        )
        def bank_rows(self, request: Request, site: Site, bank: Bank) -> Response[Page]:
            return serve_page(request, dataset_for(request, site, "bank"), bank)

        @get(
            "/{site:int}/banks/{bank:int}/racks",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Rows of all racks of a bank",
            description="Rows of every rack of one bank, ordered by time, then rack." + PAGE_NOTE,
        )
        def racks_rows(self, request: Request, site: Site, bank: Bank) -> Response[Page]:
            return serve_page(request, dataset_for(request, site, "rack"), bank)

        @get(
            "/{site:int}/banks/{bank:int}/racks/{rack:int}",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Rack rows",
            description="Rows of one rack, in time order." + PAGE_NOTE,
        )
        def rack_rows(self, request: Request, site: Site, bank: Bank, rack: Rack) -> Response[Page]:
            return serve_page(request, dataset_for(request, site, "rack"), bank, rack)

        @get(
            "/{site:int}/pcs",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="PCS rows",
            description="Rows of the site's power conversion system." + PAGE_NOTE,
        )
        def pcs_rows(self, request: Request, site: Site) -> Response[Page]:
            return serve_page(request, dataset_for(request, site, "pcs"))

        @get(
            "/{site:int}/etc",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Environment and meter rows",
            description="Rows of the site's sensors and meters (etc)." + PAGE_NOTE,
        )
        def etc_rows(self, request: Request, site: Site) -> Response[Page]:
            return serve_page(request, dataset_for(request, site, "etc"))

    class Latest(Controller):
        path = prefix
        tags = [tag]
        parameters = {**SELECTION_DOCS, **WINDOW_DOCS}

        @get(
            "/{site:int}/banks/{bank:int}/latest",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Latest bank row",
            description="The most recent row of the bank (in the window, if one is given).",
        )
        def bank_latest(self, request: Request, site: Site, bank: Bank) -> Response[Page]:
            return serve_latest(request, dataset_for(request, site, "bank"), bank)

        @get(
            "/{site:int}/banks/{bank:int}/racks/latest",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Latest row of every rack of a bank",
            description="The most recent row of each rack of the bank, ordered by rack.",
        )
        def racks_latest(self, request: Request, site: Site, bank: Bank) -> Response[Page]:
            return serve_latest(request, dataset_for(request, site, "rack"), bank)

        @get(
            "/{site:int}/banks/{bank:int}/racks/{rack:int}/latest",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Latest rack row",
            description="The most recent row of the rack (in the window, if one is given).",
        )
        def rack_latest(
            self, request: Request, site: Site, bank: Bank, rack: Rack
        ) -> Response[Page]:
            return serve_latest(request, dataset_for(request, site, "rack"), bank, rack)

        @get(
            "/{site:int}/pcs/latest",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Latest PCS row",
        )
        def pcs_latest(self, request: Request, site: Site) -> Response[Page]:
            return serve_latest(request, dataset_for(request, site, "pcs"))

        @get(
            "/{site:int}/etc/latest",
            sync_to_thread=True,
            responses=PROBLEMS,
            summary="Latest environment and meter row",
        )
        def etc_latest(self, request: Request, site: Site) -> Response[Page]:
            return serve_latest(request, dataset_for(request, site, "etc"))

    class Downloads(Controller):
        path = download_prefix
        tags = [tag]
        parameters = {**SELECTION_DOCS, **WINDOW_DOCS, **DOWNLOAD_DOCS}

        @get(
            "/{site:int}/{data_type:str}",
            responses=PROBLEMS,
            media_type="text/csv",
            summary="Download operating data as CSV, Parquet or Arrow",
            description=(
                "Streams every row of the window (data_type: bank, rack, pcs or etc) as CSV "
                "(header row first, even for an empty window), as Parquet (format=parquet: "
                "typed columns, zstd, one row group per slice of about 30,000 rows) or as an "
                "Arrow IPC stream (format=arrow: one record batch per slice). Parquet and Arrow "
                "files carry the site, component, window, time zone and units in their schema "
                "metadata (key `ess`, JSON). The window is required (start-time and end-time, "
                "or date) and spans at most ESS_DOWNLOAD_MAX_DAYS (31 days by default). CSV is "
                "sent gzip-compressed (level 1) when the client accepts it. Example: "
                "/api/ess/download/operating-sites/2/rack/"
                "?start-time=2022-05-10T10:00:00&end-time=2022-05-10T12:00:00&format=parquet"
            ),
            response_description="CSV, Parquet or Arrow file (Content-Disposition: attachment)",
        )
        async def download(self, request: Request, site: Site, data_type: DataType) -> Stream:
            if data_type not in COMPONENTS:
                raise not_found(
                    "data_type", f"unknown data type {data_type!r}; one of {', '.join(COMPONENTS)}"
                )
            return await serve_download(request, dataset_for(request, site, data_type))

    return [Pages, Latest, Downloads]


OPERATING_DATA_ROUTES = operating_data_controllers(
    prefix="/api/ess/operating-sites",
    download_prefix="/api/ess/download/operating-sites",
    dataset_for=operating_dataset_for,
    tag="operating data",
)
