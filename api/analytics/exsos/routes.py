"""GET /api/ess/stats/ex-sos/operating-sites/{site}/banks/[{bank}/[racks/[{rack}/]]]."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.buckets import BUCKET_DOCS, BUCKET_PARAMETERS, bucket_window
from api.analytics.exsos.sql import BANK_MODE, RACK_MODE, ExSoSItem, exsos_statement
from api.analytics.series import requested_series
from api.db import fetch
from api.params import WINDOW_DOCS, query_of


def serve_exsos(
    request: Request, mode: int, site: int, bank: int | None = None, rack: int | None = None
) -> list[ExSoSItem]:
    series = requested_series(request, site, bank, rack)
    values = query_of(request, BUCKET_PARAMETERS)
    count = series.rack_count() if mode == RACK_MODE else series.bank_count()
    pool = request.app.state.pool
    window = bucket_window(pool, values, series.tz, count)
    return fetch(pool, exsos_statement(series, window, mode), ExSoSItem, series.tz)


class ExSoSController(Controller):
    path = "/api/ess/stats/ex-sos/operating-sites/{site:int}/banks"
    tags = ["safety"]
    parameters = {**WINDOW_DOCS, **BUCKET_DOCS}
    description = (
        "ExSoS (extended SoS): a fuzzy score in [0, 1] (1 safest) from the two hazards of the "
        "operating state (charge: over-voltage, over-temperature; discharge: under-voltage, "
        "under-temperature; rest: voltage and temperature imbalance), with the five membership "
        "degrees and the inputs used. Mode 1: bank level (the worst rack's inputs), mode 2: "
        "rack level. Times carry the site's UTC offset."
    )

    @get("/", sync_to_thread=True, summary="ExSoS of every bank (mode 1)")
    def banks(self, request: Request, site: FromPath[int]) -> list[ExSoSItem]:
        return serve_exsos(request, BANK_MODE, site)

    @get("/{bank:int}/", sync_to_thread=True, summary="ExSoS of one bank (mode 1)")
    def bank(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> list[ExSoSItem]:
        return serve_exsos(request, BANK_MODE, site, bank)

    @get("/{bank:int}/racks/", sync_to_thread=True, summary="ExSoS of every rack (mode 2)")
    def bank_racks(
        self, request: Request, site: FromPath[int], bank: FromPath[int]
    ) -> list[ExSoSItem]:
        return serve_exsos(request, RACK_MODE, site, bank)

    @get("/{bank:int}/racks/{rack:int}/", sync_to_thread=True, summary="ExSoS of one rack")
    def rack(
        self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
    ) -> list[ExSoSItem]:
        return serve_exsos(request, RACK_MODE, site, bank, rack)
