"""Respond step of the protection map's episodes: one page with its neighbours' links, or with
no_page the bare list of the window's items; each episode with the earlier service's keys
(`timestamp`, `error_code` and `level` as objects, `description` in Korean, `description_eng`)
beside ours, or only the keys fields/omit chose."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import msgspec
from litestar import Request

from api.analytics.protection.parse import EpisodeQuery
from api.analytics.protection.sql import EpisodeFacts, EpisodeRow
from api.errors import bad_parameter, not_found


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


EPISODE_KEYS: tuple[str, ...] = Episode.__struct_fields__
# an item: an Episode, or with fields or omit the chosen keys of one
Chosen = dict[str, Any]
PageItem = TypeVar("PageItem")
EpisodeItems = list[Episode] | list[Chosen]


def episode_items(query: EpisodeQuery, rows: list[EpisodeRow]) -> EpisodeItems:
    episodes = [episode_of(row) for row in rows]
    if query.keys is None:
        return episodes
    return [{key: getattr(episode, key) for key in query.keys} for episode in episodes]


class EpisodePage(msgspec.Struct, Generic[PageItem]):
    count: int
    next: str | None
    previous: str | None
    results: list[PageItem]


EpisodeAnswer = EpisodePage[Episode] | EpisodePage[Chosen] | EpisodeItems


def _window_total(rows: list[EpisodeRow]) -> int:
    """The window's items (every row carries the count); 0 when it holds none."""
    return rows[0].total if rows else 0


def _page_link(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return str(request.url.with_replacements(query=urlencode(pairs)))


def episode_page(request: Request, query: EpisodeQuery, rows: list[EpisodeRow]) -> EpisodePage:
    if not rows and query.page > 1:
        raise not_found("page", f"page {query.page} is past the last page of this window")
    total = _window_total(rows)
    pages = math.ceil(total / query.page_size)
    return EpisodePage(
        count=total,
        next=_page_link(request, query.page + 1) if query.page < pages else None,
        previous=_page_link(request, query.page - 1) if query.page > 1 else None,
        results=episode_items(query, rows),
    )


def episode_list(query: EpisodeQuery, rows: list[EpisodeRow]) -> EpisodeItems:
    """no_page: the window's items in page order; the statement fetched at most page_size of
    them (parse.NO_PAGE_MAX), a larger window is refused rather than cut short."""
    total = _window_total(rows)
    if total > query.page_size:
        raise bad_parameter(
            "no_page",
            f"this window holds {total} items, more than the {query.page_size} one list may "
            "hold; narrow the window (or filter by level, error_code or message) or page it",
        )
    return episode_items(query, rows)


def episodes_answer(request: Request, query: EpisodeQuery, rows: list[EpisodeRow]) -> EpisodeAnswer:
    return episode_list(query, rows) if query.no_page else episode_page(request, query, rows)
