"""Respond step: the rows as the database printed them (JSON objects or CSV lines) -> a JSON
page or a CSV page, with keyset links.
"""

from __future__ import annotations

import csv
import zlib
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response

from api.operating_data.cursor import AFTER, BEFORE, Cursor, Position, encode_cursor
from api.operating_data.dataset import TIME_NAME
from api.operating_data.execute import PageData
from api.operating_data.plan import PagePlan, Selection
from api.operating_data.settings import GZIP_LEVEL, OperatingDataSettings

JSON = "application/json"
CSV = "text/csv"
CSV_UTF8 = "text/csv; charset=utf-8"
PARQUET = "application/vnd.apache.parquet"
ARROW_STREAM = "application/vnd.apache.arrow.stream"
DOWNLOAD_MEDIA_TYPES = {CSV: "csv", PARQUET: "parquet", ARROW_STREAM: "arrow"}
GZIP_MIN_BYTES = 4096

ROW_EXAMPLE = {
    "timestamp": "2022-05-10T14:00:00+09:00",
    "bank_id": 1,
    "rack_id": 3,
    "rack_soc": 89.5,
    "rack_voltage": 966.3,
    "rack_current": 0.4,
    "rack_module_fault": {"module1": 0, "module2": 0},
}


class Page(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One page of rows, shaped as the specification's paginated answers."""

    count: Annotated[
        int | None,
        msgspec.Meta(description="rows in the whole window; only with count=exact|estimated"),
    ] = None
    next: Annotated[
        str | None, msgspec.Meta(description="URL of the next page (keyset cursor), or null")
    ]
    previous: Annotated[str | None, msgspec.Meta(description="URL of the previous page, or null")]
    results: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description="rows in time order (then rack): timestamp, key columns, then the "
            "selected columns under their lower-case names",
            examples=[[ROW_EXAMPLE]],
        ),
    ]


def position_of(selection: Selection, data: PageData, line: bytes) -> Position:
    """The keyset position of one row of the page: its time and its unfixed keys."""
    if data.json:
        row = msgspec.json.decode(line)
        names = {c.source: c.name for c in selection.columns}
        time, keys = row[TIME_NAME], (row[names[k]] for k in selection.order_keys)
    else:
        fields = next(csv.reader([line.decode()]))
        sources = [c.source for c in selection.columns]
        time, keys = fields[0], (fields[1 + sources.index(k)] for k in selection.order_keys)
    return Position(datetime.fromisoformat(time), tuple(int(k) for k in keys))


def _link(
    request: Request, settings: OperatingDataSettings, selection: Selection, cursor: Cursor
) -> str:
    token = encode_cursor(settings.cursor_key, selection.scope, cursor)
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "cursor")]
    pairs.append(("cursor", token))
    return str(request.url.with_replacements(query=urlencode(pairs)))


def page_links(
    request: Request, settings: OperatingDataSettings, plan: PagePlan, data: PageData
) -> tuple[str | None, str | None]:
    """next and previous as cursor links: a page number is only ever a way in."""
    if not data.lines:
        return None, None
    backward = plan.cursor is not None and plan.cursor.direction == BEFORE
    has_next = backward or data.more
    has_previous = data.more if backward else not plan.first_page
    selection = plan.selection
    next_url = previous_url = None
    if has_next:
        position = position_of(selection, data, data.lines[-1])
        next_url = _link(request, settings, selection, Cursor(AFTER, position))
    if has_previous:
        position = position_of(selection, data, data.lines[0])
        previous_url = _link(request, settings, selection, Cursor(BEFORE, position))
    return next_url, previous_url


def wants_csv(request: Request) -> bool:
    return request.accept.best_match([JSON, CSV], default=JSON) == CSV


def download_format(request: Request, requested: str | None) -> str:
    """format= if given, else the Accept header's choice among the formats; CSV by default."""
    if requested is not None:
        return requested
    best = request.accept.best_match(list(DOWNLOAD_MEDIA_TYPES), default=CSV)
    return DOWNLOAD_MEDIA_TYPES[best]


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        coding, _, parameters = part.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            quality = parameters.strip().removeprefix("q=")
            try:
                return float(quality) > 0 if quality else True
            except ValueError:
                return False
    return False


def body_response(
    request: Request, body: bytes, media_type: str, headers: dict[str, str]
) -> Response:
    """gzip when the client accepts it and the body is worth it."""
    headers = {**headers, "Vary": "Accept"}
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(request):
        body = zlib.compress(body, GZIP_LEVEL, wbits=31)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept, Accept-Encoding"
    return Response(content=body, media_type=media_type, headers=headers)


def rows_response(
    request: Request, data: PageData, links: tuple[str | None, str | None] = (None, None)
) -> Response:
    """The rows as a JSON page or as CSV (read for Accept: text/csv), with the links in Link."""
    next_url, previous_url = links
    if not data.json:
        headers = {}
        link = [
            f'<{u}>; rel="{rel}"' for u, rel in ((next_url, "next"), (previous_url, "prev")) if u
        ]
        if link:
            headers["Link"] = ", ".join(link)
        if data.count is not None:
            headers["X-Total-Count"] = str(data.count)
        body = b"\n".join([data.header, *data.lines]) + b"\n"
        return body_response(request, body, CSV, headers)  # Litestar adds the charset
    page = Page(
        count=data.count,
        next=next_url,
        previous=previous_url,
        results=msgspec.Raw(b"[" + b",".join(data.lines) + b"]"),
    )
    return body_response(request, msgspec.json.encode(page), JSON, {})
