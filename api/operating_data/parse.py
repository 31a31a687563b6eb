"""Parse step: query parameters -> validated arguments, each error a 400 naming its parameter.

Unknown parameters are refused too (a misspelt `feilds` would otherwise silently return every
column)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from api.errors import bad_parameter
from api.operating_data.dataset import TIME_NAME, Dataset, OutputColumn
from api.operating_data.settings import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from api.params import (
    WINDOW,
    Window,
    parse_int,
    parse_name_list,
    parse_timezone,
    query_values,
    window_of,
)

SELECTION = ("fields", "omit", "tz")
PAGING = ("page", "page_size", "cursor", "count")
# the earlier service's switch (present with any value, even empty): every row of the window
# as one bare JSON list instead of pages
NO_PAGE = "no_page"
SERIES = ("bank", "rack")
DOWNLOAD_FORMATS = ("csv", "parquet", "arrow")
# a signed download link (api/auth/signed_links.py) carries its signature in the query
SIGNED = ("signed",)
COUNT_MODES = ("exact", "estimated")

PAGE_PARAMETERS = (*SELECTION, *WINDOW, *PAGING, NO_PAGE)
LATEST_PARAMETERS = (*SELECTION, *WINDOW)
DOWNLOAD_PARAMETERS = (*SELECTION, *WINDOW, *SERIES, "format", *SIGNED)


@dataclass(frozen=True)
class Selected:
    """What every endpoint reads: which columns, over which window, shown in which zone."""

    columns: tuple[OutputColumn, ...]  # after the time column; key columns first
    window: Window
    tz: ZoneInfo


@dataclass(frozen=True)
class PageArgs:
    selected: Selected
    page: int | None
    page_size: int
    cursor: str | None
    count: str | None


@dataclass(frozen=True)
class WholeListArgs:
    """no_page: every row of the window, streamed like a download and bounded like one."""

    selected: Selected


@dataclass(frozen=True)
class DownloadArgs:
    selected: Selected
    bank: int | None
    rack: int | None
    format: str | None  # None: by the Accept header


def select_columns(
    dataset: Dataset, fields: str | None, omit: str | None
) -> tuple[OutputColumn, ...]:
    """fields= keeps the named columns in the order given, omit= drops some; the time and key
    columns are always part of a row (they identify it)."""
    if fields is not None and omit is not None:
        raise bad_parameter("omit", "give either fields or omit, not both")
    keys = [c for c in dataset.columns if c.source in dataset.key_columns]
    if fields is not None:
        names = parse_name_list(fields, "fields", dataset.names)
        fixed = {TIME_NAME, *(c.name for c in keys)}
        return (*keys, *(dataset.by_name(n) for n in names if n not in fixed))
    if omit is not None:
        names = parse_name_list(omit, "omit", dataset.names)
        kept = [n for n in names if n == TIME_NAME or n in dataset.key_names]
        if kept:
            raise bad_parameter(
                "omit",
                f"{', '.join(kept)} identify a row and are always included "
                f"({', '.join((TIME_NAME, *dataset.key_names))})",
            )
        return tuple(c for c in dataset.columns if c.name not in names)
    return dataset.columns


def parse_selected(
    dataset: Dataset,
    values: dict[str, str],
    *,
    require_bounds: bool = False,
    max_span: timedelta | None = None,
) -> Selected:
    site_tz = ZoneInfo(dataset.site.timezone)
    return Selected(
        columns=select_columns(dataset, values.get("fields"), values.get("omit")),
        window=window_of(values, site_tz, require_bounds=require_bounds, max_span=max_span),
        tz=parse_timezone(values.get("tz"), dataset.site.timezone),
    )


def parse_page_args(
    dataset: Dataset, pairs: Iterable[tuple[str, str]], max_span: timedelta
) -> PageArgs | WholeListArgs:
    """A page, or with no_page the whole window (which then needs the bounds of a download,
    at most `max_span` long)."""
    values = query_values(pairs, PAGE_PARAMETERS)
    if NO_PAGE in values:
        return parse_whole_list_args(dataset, values, max_span)
    page = parse_int(values.get("page"), "page", minimum=1)
    cursor = values.get("cursor")
    if page is not None and cursor is not None:
        raise bad_parameter("cursor", "give either page or cursor, not both")
    count = values.get("count")
    if count is not None and count not in COUNT_MODES:
        raise bad_parameter("count", f"{count!r} is not one of {', '.join(COUNT_MODES)}")
    return PageArgs(
        selected=parse_selected(dataset, values),
        page=page,
        page_size=parse_int(values.get("page_size"), "page_size", 1, PAGE_SIZE_MAX)
        or PAGE_SIZE_DEFAULT,
        cursor=cursor,
        count=count,
    )


def parse_whole_list_args(
    dataset: Dataset, values: dict[str, str], max_span: timedelta
) -> WholeListArgs:
    paging = [name for name in PAGING if name in values]
    if paging:
        raise bad_parameter(
            paging[0],
            f"no_page answers every row of the window as one list: give no_page or "
            f"{', '.join(paging)}, not both",
        )
    return WholeListArgs(parse_selected(dataset, values, require_bounds=True, max_span=max_span))


def parse_latest_args(dataset: Dataset, pairs: Iterable[tuple[str, str]]) -> Selected:
    return parse_selected(dataset, query_values(pairs, LATEST_PARAMETERS))


def parse_download_args(
    dataset: Dataset, pairs: Iterable[tuple[str, str]], max_span: timedelta
) -> DownloadArgs:
    values = query_values(pairs, DOWNLOAD_PARAMETERS)
    format = values.get("format")
    if format is not None and format not in DOWNLOAD_FORMATS:
        raise bad_parameter("format", f"{format!r} is not one of {', '.join(DOWNLOAD_FORMATS)}")
    return DownloadArgs(
        selected=parse_selected(dataset, values, require_bounds=True, max_span=max_span),
        bank=parse_int(values.get("bank"), "bank", minimum=1),
        rack=parse_int(values.get("rack"), "rack", minimum=1),
        format=format,
    )
