"""Respond step of the protection map's episodes: one page with its neighbours' links, each
episode with the earlier service's keys (`timestamp`, `error_code` and `level` as objects,
`description` in Korean, `description_eng`) beside ours."""

from __future__ import annotations

import math
from datetime import datetime
from urllib.parse import urlencode

import msgspec
from litestar import Request

from api.analytics.protection.parse import EpisodeQuery
from api.analytics.protection.sql import EpisodeFacts, EpisodeRow
from api.errors import not_found


class ErrorCode(msgspec.Struct):
    id: int
    description: str  # Korean name of the hazard
    description_eng: str


class Level(msgspec.Struct):
    id: int  # 1 warning, 2 fault
    description: str  # Korean name of the level


class Episode(EpisodeFacts):
    timestamp: datetime  # the earlier service's key: when the episode started
    error_code: ErrorCode
    level: Level
    description: str  # Korean
    description_eng: str


def episode_of(row: EpisodeRow) -> Episode:
    return Episode(
        **{name: getattr(row, name) for name in EpisodeFacts.__struct_fields__},
        timestamp=row.start_time,
        error_code=ErrorCode(row.error_code, row.code_name_ko, row.code_name_en),
        level=Level(row.level, row.level_name_ko),
        description=row.description_ko,
        description_eng=row.description_en,
    )


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
        results=[episode_of(row) for row in rows],
    )
