"""GET /: where to go from here (a person's first request usually is the bare host): a browser
is sent to the web UI, an API client gets the entry points."""

from __future__ import annotations

import msgspec
from litestar import Request, Response, get
from litestar.response import Redirect


class Links(msgspec.Struct):
    name: str
    sites: str
    openapi: str
    docs: str
    ui: str


def wants_html(request: Request) -> bool:
    """A browser's navigation asks for text/html first; curl and API clients do not."""
    return request.accept.best_match(["application/json", "text/html"]) == "text/html"


@get("/", summary="Entry points of the API (a browser is redirected to /ui/)", tags=["catalog"])
async def root(request: Request) -> Response[Links]:
    if wants_html(request):
        return Redirect("/ui/", status_code=303, headers={"Vary": "Accept"})
    return Response(
        Links(
            name="ESS data platform",
            sites="/api/ess/operating-sites/",
            openapi="/schema/openapi.json",
            docs="/schema",
            ui="/ui/",
        ),
        headers={"Vary": "Accept"},
    )
