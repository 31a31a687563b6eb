"""GET /: where to go from here (a person's first request usually is the bare host)."""

from __future__ import annotations

import msgspec
from litestar import get


class Links(msgspec.Struct):
    name: str
    sites: str
    openapi: str
    docs: str


@get("/", summary="Entry points of the API", tags=["catalog"])
async def root() -> Links:
    return Links(
        name="ESS data platform",
        sites="/api/ess/operating-sites/",
        openapi="/schema/openapi.json",
        docs="/schema",
    )
