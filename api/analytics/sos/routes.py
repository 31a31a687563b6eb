"""GET /api/ess/stats/sos/operating-sites/{site}/banks/{bank}/racks/[{rack}/]."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.buckets import BUCKET_DOCS, BUCKET_PARAMETERS, bucket_window
from api.analytics.series import requested_series
from api.analytics.sos.sql import SoSItem, sos_statement
from api.db import fetch
from api.params import WINDOW_DOCS, query_of
from api.replicas import reads


def serve_sos(request: Request, site: int, bank: int, rack: int | None = None) -> list[SoSItem]:
    series = requested_series(request, site, bank, rack)
    values = query_of(request, BUCKET_PARAMETERS)
    window = bucket_window(reads(request), values, series.tz, series.rack_count())
    return fetch(reads(request), sos_statement(series, window), SoSItem, series.tz)


class SoSController(Controller):
    path = "/api/ess/stats/sos/operating-sites/{site:int}/banks/{bank:int}/racks"
    tags = ["safety"]
    parameters = {**WINDOW_DOCS, **BUCKET_DOCS}
    description = (
        "SoS (State of Safety, Cabrera-Castillo et al. 2016): seven hazard factors in (0, 1], "
        "their product sos_score, and the class: safe >= 0.8, warning >= 0.4096, unsafe. "
        "Times carry the site's UTC offset."
    )

    @get("/", sync_to_thread=True, summary="SoS of every rack of a bank per time bucket")
    def bank_racks(
        self, request: Request, site: FromPath[int], bank: FromPath[int]
    ) -> list[SoSItem]:
        return serve_sos(request, site, bank)

    @get("/{rack:int}/", sync_to_thread=True, summary="SoS of one rack per time bucket")
    def rack(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> list[SoSItem]:
        return serve_sos(request, site, bank, rack)
