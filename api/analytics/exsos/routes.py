"""GET /api/ess/stats/ex-sos/operating-sites/{site}/banks/[{bank}/[racks/[{rack}/]]]."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.buckets import BUCKET_DOCS, BUCKET_PARAMETERS, bucket_window
from api.analytics.exsos.sql import BANK_MODE, RACK_MODE, ExSoSItem, exsos_statement
from api.analytics.series import requested_series
from api.db import fetch
from api.errors import bad_parameter
from api.params import WINDOW_DOCS, parse_int, query_doc, query_of
from api.replicas import reads

EXSOS_PARAMETERS = (*BUCKET_PARAMETERS, "mode")
MODE_DOCS = {
    "mode": query_doc(
        "mode",
        "1: bank level (the worst rack's inputs), 2: rack level. Default: 1 on the banks URLs, "
        "2 on the racks URLs; a single rack's URL answers rack level only.",
        2,
    )
}


def parse_mode(values: dict[str, str], default: int, rack: int | None) -> int:
    mode = parse_int(values.get("mode"), "mode", BANK_MODE, RACK_MODE) or default
    if rack is not None and mode == BANK_MODE:
        raise bad_parameter(
            "mode",
            "a rack's ExSoS is rack level (mode 2); ask the bank's URL for the bank level",
        )
    return mode


def serve_exsos(
    request: Request,
    default_mode: int,
    site: int,
    bank: int | None = None,
    rack: int | None = None,
) -> list[ExSoSItem]:
    series = requested_series(request, site, bank, rack)
    values = query_of(request, EXSOS_PARAMETERS)
    mode = parse_mode(values, default_mode, rack)
    count = series.rack_count() if mode == RACK_MODE else series.bank_count()
    window = bucket_window(reads(request), values, series.tz, count)
    return fetch(reads(request), exsos_statement(series, window, mode), ExSoSItem, series.tz)


class ExSoSController(Controller):
    path = "/api/ess/stats/ex-sos/operating-sites/{site:int}/banks"
    tags = ["safety"]
    parameters = {**WINDOW_DOCS, **BUCKET_DOCS, **MODE_DOCS}
    description = (
        "ExSoS (extended SoS): a fuzzy score in [0, 1] (1 safest) from the two hazards of the "
        "operating state (charge: over-voltage, over-temperature; discharge: under-voltage, "
        "under-temperature; rest: voltage and temperature imbalance), with the five membership "
        "degrees (membership_degree, keyed Negligible ... Catastrophic), the state and the seven "
        "inputs of the bucket (membership_degree_detail, status 0 charge, 1 discharge, 2 rest) "
        "and the two inputs used. Mode 1: bank level (the worst rack's inputs), mode 2: rack "
        "level. Times carry the site's UTC offset."
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
