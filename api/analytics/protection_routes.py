"""The specification's protection-map URLs: the episodes of a site (paged) and their counts per
time bucket and level."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from api.analytics.indicator_request import WindowQuery
from api.analytics.protection import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    EpisodePage,
    EpisodeQuery,
    LevelCount,
    episode_page,
    level_counts,
    parse_count_bucket,
    parse_level,
    parse_max_gap,
    parse_positive,
    parse_protection_window,
)
from api.analytics.safety_routes import WINDOW

MAX_GAP = QueryParameter(
    name="max-gap",
    default=None,
    description="Readings at most this far apart form one episode (default 10 s, or three "
    "times the data's typical interval where it is coarser; at most 1 hour)",
)


class ProtectionMapController(Controller):
    path = "/api/ess-feature/protectionmap/operating-sites/{site:int}"
    tags = ["safety"]
    dependencies = WINDOW
    description = (
        "Protection-map episodes: runs of consecutive rack readings in which a threshold rule "
        "(warning = level 1, fault = level 2; per-site table ess.protection_threshold) or one of "
        "the BMS's own warning and fault flags held, readings up to max-gap apart belonging to "
        "the same episode. At most 31 days per request (start-time and end-time, or date for one "
        "local day)."
    )

    @get("/", sync_to_thread=True, summary="Protection-map episodes of a site, newest first")
    def episodes(
        self,
        request: Request,
        site: FromPath[int],
        window: NamedDependency[WindowQuery],
        level: str | None = QueryParameter(
            name="level", default=None, description="1 or warning, 2 or fault"
        ),
        error_code: str | None = QueryParameter(
            name="error-code", default=None, description="Hazard code (ess.protection_code)"
        ),
        page: str | None = QueryParameter(name="page", default=None),
        page_size: str | None = QueryParameter(
            name="page_size", default=None, description=f"Default {PAGE_SIZE_DEFAULT}"
        ),
        max_gap: str | None = MAX_GAP,
    ) -> EpisodePage:
        found = request.app.state.catalog.require_site(site)
        tz = ZoneInfo(found.timezone)
        start, end = parse_protection_window(window, tz)
        query = EpisodeQuery(
            site=site,
            tz=tz,
            start=start,
            end=end,
            max_gap=parse_max_gap(max_gap),
            level=parse_level(level),
            code=parse_positive(error_code, "error-code", 32767),
            page=parse_positive(page, "page", 1_000_000) or 1,
            page_size=parse_positive(page_size, "page_size", PAGE_SIZE_MAX) or PAGE_SIZE_DEFAULT,
        )
        with request.app.state.pool.connection() as conn:
            return episode_page(conn, request, query)

    @get(
        "/stats/log-level-count/",
        sync_to_thread=True,
        summary="Episodes started and readings flagged per time bucket and level",
    )
    def log_level_count(
        self,
        request: Request,
        site: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = QueryParameter(
            name="time-bucket-width", default=None, description="Default 1 hour"
        ),
        max_gap: str | None = MAX_GAP,
    ) -> list[LevelCount]:
        found = request.app.state.catalog.require_site(site)
        tz = ZoneInfo(found.timezone)
        start, end = parse_protection_window(window, tz)
        bucket = parse_count_bucket(width, start, end)
        gap = parse_max_gap(max_gap)
        with request.app.state.pool.connection() as conn:
            return level_counts(conn, site, tz, start, end, bucket, gap)
