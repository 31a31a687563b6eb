"""GET /api/ess-feature/protectionmap/operating-sites/{site}/ and .../stats/log-level-count/."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.analytics.protection.parse import (
    COUNT_PARAMETERS,
    EPISODE_PARAMETERS,
    NO_PAGE_MAX,
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    parse_counts,
    parse_episodes,
)
from api.analytics.protection.respond import (
    EPISODE_KEYS,
    EpisodeAnswer,
    episodes_answer,
)
from api.analytics.protection.sql import (
    EpisodeRow,
    LevelCount,
    episodes_statement,
    level_counts_statement,
)
from api.db import fetch
from api.params import WINDOW_DOCS, bucket_width_doc, query_doc, query_of
from api.replicas import reads

MAX_GAP_DOCS = {
    "max_gap": query_doc(
        "max-gap",
        "Readings at most this far apart form one episode (default 10 s, or three times the "
        "data's typical interval where it is coarser; at most 1 hour)",
        "30s",
    )
}
EPISODE_DOCS = {
    "time": query_doc(
        "time",
        "One exact second instead of a window (the earlier service's live poll): the readings "
        "of that second, each its own episode",
        "2022-05-10T10:00:00",
    ),
    "level": query_doc("level", "1 or warning, 2 or fault", "fault"),
    "error_code_hyphen": query_doc("error-code", "Hazard code (ess.protection_code)", 1),
    "error_code": query_doc("error_code", "The same as error-code (the earlier name)", 1),
    "message": query_doc("message", "A part of the Korean description (description)", "과온도"),
    "page": query_doc("page", "Page number (1-based)", 2),
    "page_size": query_doc(
        "page_size",
        f"Episodes per page (default {PAGE_SIZE_DEFAULT}, at most {PAGE_SIZE_MAX})",
        100,
    ),
    "no_page": query_doc(
        "no_page",
        "Present (any value, even empty): no paging, a bare list of every episode of the "
        f"window in page order; a 400 when the window holds more than {NO_PAGE_MAX} "
        "(narrow it or page). Not with page or page_size.",
        "",
    ),
    "fields": query_doc(
        "fields",
        "Comma-separated item keys to answer, in this order (e.g. timestamp,level,rack_id); "
        "an unknown key is a 400",
        "timestamp,error_code,level,bank_id,rack_id",
    ),
    "omit": query_doc("omit", "Comma-separated item keys to leave out (not with fields)", "unit"),
}


class ProtectionMapController(Controller):
    path = "/api/ess-feature/protectionmap/operating-sites/{site:int}"
    tags = ["safety"]
    parameters = {**WINDOW_DOCS, **MAX_GAP_DOCS, **EPISODE_DOCS}
    description = (
        "Protection-map episodes: runs of consecutive rack readings in which a threshold rule "
        "(warning = level 1, fault = level 2; per-site table ess.protection_threshold) or one of "
        "the BMS's own warning and fault flags held, readings up to max-gap apart belonging to "
        "the same episode. At most a year per request (start-time and end-time, or date for one "
        "local day), or one second (time). Items carry the earlier service's keys too: "
        "timestamp, error_code {id, description, description_eng}, level {id, description}, "
        "description (Korean) and description_eng. Paged {count, next, previous, results}, "
        "or with no_page a bare list; fields/omit choose the item keys."
    )

    @get("/", sync_to_thread=True, summary="Protection-map episodes of a site, newest first")
    def episodes(self, request: Request, site: FromPath[int]) -> EpisodeAnswer:
        found = request.app.state.catalog.require_site(site)
        query = parse_episodes(found, query_of(request, EPISODE_PARAMETERS), EPISODE_KEYS)
        rows = fetch(reads(request), episodes_statement(query), EpisodeRow, query.window.tz)
        return episodes_answer(request, query, rows)


class LevelCountController(Controller):
    path = "/api/ess-feature/protectionmap/operating-sites/{site:int}/stats/log-level-count"
    tags = ["safety"]
    parameters = {**WINDOW_DOCS, **MAX_GAP_DOCS, **bucket_width_doc("1 hour")}
    description = (
        "Per local time bucket and level, newest bucket first: level_count = readings (one per "
        "second and rack) whose highest level is this one, as the earlier service logged them "
        "(a fault reading is not also a warning; a threshold and a BMS flag of the same second "
        "count once); episode_count = episodes of this level that started in the bucket."
    )

    @get(
        "/",
        sync_to_thread=True,
        summary="Readings flagged (one level each) and episodes started per bucket and level",
    )
    def log_level_count(self, request: Request, site: FromPath[int]) -> list[LevelCount]:
        found = request.app.state.catalog.require_site(site)
        query = parse_counts(found, query_of(request, COUNT_PARAMETERS))
        statement = level_counts_statement(query)
        return fetch(reads(request), statement, LevelCount, query.window.tz)
