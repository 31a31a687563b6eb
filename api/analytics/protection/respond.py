"""Respond step of the protection map's episodes: one page with its neighbours' links."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import msgspec
from litestar import Request

from api.analytics.protection.parse import EpisodeQuery
from api.analytics.protection.sql import Episode, EpisodeRow
from api.errors import not_found


class EpisodePage(msgspec.Struct):
    count: int
    next: str | None
    previous: str | None
    results: list[Episode]


def _page_link(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return str(request.url.with_replacements(query=urlencode(pairs)))


def episode_page(request: Request, query: EpisodeQuery, rows: list[EpisodeRow]) -> EpisodePage:
    if not rows and query.page > 1:
        raise not_found("page", f"page {query.page} is past the last page of this window")
    total = rows[0].total if rows else 0
    pages = math.ceil(total / query.page_size)
    return EpisodePage(
        count=total,
        next=_page_link(request, query.page + 1) if query.page < pages else None,
        previous=_page_link(request, query.page - 1) if query.page > 1 else None,
        results=[row.episode() for row in rows],
    )
