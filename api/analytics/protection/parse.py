"""Parse step of the protection map: a window of at most a year (stored events make long
windows cheap, docs/analytics-safety.md), or one exact second (`time`, the earlier service's
live poll); the episode gap, the filters, the page (or `no_page`: every item of the window in
one list, up to NO_PAGE_MAX) or bucket, and the item keys to keep (`fields`) or drop (`omit`).
The earlier service's parameter names `error_code`, `time`, `no_page`, `fields` and `omit` are
accepted beside ours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from api.catalog.model import Site
from api.errors import bad_parameter
from api.params import (
    WINDOW,
    parse_duration,
    parse_int,
    parse_name_list,
    parse_time,
    window_of,
)

EPISODE_PARAMETERS = (
    *WINDOW,
    "time",
    "level",
    "error-code",
    "error_code",
    "message",
    "page",
    "page_size",
    "no_page",
    "fields",
    "omit",
    "max-gap",
)
COUNT_PARAMETERS = (*WINDOW, "time-bucket-width", "max-gap")
MAX_SPAN = timedelta(days=366)
ONE_SECOND = timedelta(seconds=1)
MAX_MESSAGE = 200
MAX_BUCKETS = 10_000
PAGE_SIZE_DEFAULT = 100
PAGE_SIZE_MAX = 1000
MAX_PAGE = 1_000_000
# no_page answers one list of the whole window; beyond this many items it is a 400 (narrow the
# window or page), so one request never holds more than this many episodes in memory
NO_PAGE_MAX = 10_000
MAX_CODE = 32767  # ess.protection_code.code is a smallint
LEVELS = {"1": 1, "2": 2, "warning": 1, "fault": 2}
MAX_GAP_LIMIT = timedelta(hours=1)


@dataclass(frozen=True)
class ProtectionWindow:
    site: Site
    start: datetime
    end: datetime
    max_gap: timedelta | None  # None: the SQL default

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def params(self) -> dict[str, object]:
        return {
            "site": self.site.site_id,
            "window_start": self.start,
            "window_end": self.end,
            "max_gap": self.max_gap,
        }


@dataclass(frozen=True)
class EpisodeQuery:
    window: ProtectionWindow
    level: int | None
    code: int | None
    message: str | None  # a substring of the Korean description
    page: int
    page_size: int
    no_page: bool  # one bare list of the window's items (page 1 of NO_PAGE_MAX)
    keys: tuple[str, ...] | None  # the item keys to answer, in this order; None: all


@dataclass(frozen=True)
class CountQuery:
    window: ProtectionWindow
    bucket: timedelta


def parse_max_gap(value: str | None) -> timedelta | None:
    """None: the SQL default (10 s, or three times the data's interval where it is coarser)."""
    if value is None:
        return None
    gap = parse_duration(value, "max-gap")
    if gap > MAX_GAP_LIMIT:
        raise bad_parameter("max-gap", f"at most {MAX_GAP_LIMIT}")
    return gap


def parse_level(value: str | None) -> int | None:
    if value is None:
        return None
    level = LEVELS.get(value.strip().lower())
    if level is None:
        raise bad_parameter("level", f"{value!r} is not a level: 1 (warning) or 2 (fault)")
    return level


def parse_protection_window(site: Site, values: dict[str, str]) -> ProtectionWindow:
    tz = ZoneInfo(site.timezone)
    max_gap = parse_max_gap(values.get("max-gap"))
    if (second := values.get("time")) is not None:
        if any(name in values for name in WINDOW):
            raise bad_parameter("time", "give either time (one second) or a window, not both")
        start = parse_time(second, tz, "time").replace(microsecond=0)
        return ProtectionWindow(site, start, start + ONE_SECOND, max_gap)
    window = window_of(values, tz, require_bounds=True, max_span=MAX_SPAN)
    assert window.start is not None and window.end is not None
    return ProtectionWindow(site, window.start, window.end, max_gap)


def parse_code(values: dict[str, str]) -> int | None:
    """error-code, or the earlier service's error_code (not both)."""
    if "error-code" in values and "error_code" in values:
        raise bad_parameter("error_code", "give either error_code or error-code, not both")
    name = "error_code" if "error_code" in values else "error-code"
    return parse_int(values.get(name), name, 1, MAX_CODE)


def parse_message(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or len(value) > MAX_MESSAGE:
        raise bad_parameter("message", f"give 1 to {MAX_MESSAGE} characters to look for")
    # PostgreSQL text holds no NUL; U+FFFD is what invalid UTF-8 in the query decodes to
    if "\x00" in value or "\ufffd" in value:
        raise bad_parameter("message", "give text without NUL characters, in UTF-8")
    return value


def parse_keys(values: dict[str, str], item_keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """fields= keeps the named item keys in the order given, omit= drops the named ones (the
    earlier service's names); an unknown key is a 400 naming it."""
    if "fields" in values and "omit" in values:
        raise bad_parameter("omit", "give either fields or omit, not both")
    if (fields := parse_name_list(values.get("fields"), "fields", item_keys)) is not None:
        return tuple(fields)
    if (omit := parse_name_list(values.get("omit"), "omit", item_keys)) is not None:
        return tuple(key for key in item_keys if key not in omit)
    return None


def parse_paging(values: dict[str, str]) -> tuple[int, int, bool]:
    """(page, page_size, no_page): no_page (present with any value, even empty) is page 1 of
    NO_PAGE_MAX items, answered as a bare list."""
    if "no_page" in values:
        if paging := [name for name in ("page", "page_size") if name in values]:
            raise bad_parameter(
                paging[0],
                "no_page answers every item of the window in one list; drop "
                f"{' and '.join(paging)} or no_page",
            )
        return 1, NO_PAGE_MAX, True
    page = parse_int(values.get("page"), "page", 1, MAX_PAGE) or 1
    page_size = parse_int(values.get("page_size"), "page_size", 1, PAGE_SIZE_MAX)
    return page, page_size or PAGE_SIZE_DEFAULT, False


def parse_episodes(site: Site, values: dict[str, str], item_keys: tuple[str, ...]) -> EpisodeQuery:
    """item_keys: the keys of an answer's item (respond.EPISODE_KEYS), for fields and omit."""
    page, page_size, no_page = parse_paging(values)
    return EpisodeQuery(
        window=parse_protection_window(site, values),
        level=parse_level(values.get("level")),
        code=parse_code(values),
        message=parse_message(values.get("message")),
        page=page,
        page_size=page_size,
        no_page=no_page,
        keys=parse_keys(values, item_keys),
    )


def parse_counts(site: Site, values: dict[str, str]) -> CountQuery:
    window = parse_protection_window(site, values)
    bucket = parse_duration(values.get("time-bucket-width") or "1 hour", "time-bucket-width")
    if (window.end - window.start) / bucket > MAX_BUCKETS:
        raise bad_parameter("time-bucket-width", f"at most {MAX_BUCKETS} buckets per request")
    return CountQuery(window, bucket)
