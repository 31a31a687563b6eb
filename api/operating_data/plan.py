"""Plan step: a dataset plus parsed arguments -> what exactly to read, in which order, how much.

Pure functions over the catalog (no database): the SQL builder turns a plan into a statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from api.errors import bad_parameter
from api.operating_data.cursor import Cursor, decode_cursor
from api.operating_data.dataset import NOMINAL_CADENCE_S, Dataset, OutputColumn
from api.operating_data.parse import PageArgs, Selected
from api.operating_data.settings import OperatingDataSettings
from api.params import Window


@dataclass(frozen=True)
class Selection:
    """Rows of one site's dataset: some series (fixed keys), a window, some columns."""

    dataset: Dataset
    columns: tuple[OutputColumn, ...]
    fixed: tuple[tuple[str, int], ...]  # (key source column, value), e.g. (("bank_id", 1),)
    window: Window
    tz: str  # IANA zone of the output offsets

    @property
    def order_keys(self) -> tuple[str, ...]:
        """Series keys that vary within the selection: rows are ordered by time, then these."""
        fixed = dict(self.fixed)
        return tuple(k for k in self.dataset.key_columns if k not in fixed)

    @property
    def series_count(self) -> int:
        return self.dataset.series_count(dict(self.fixed))

    @property
    def scope(self) -> str:
        """What a cursor is bound to: the relation, the site and the fixed series."""
        schema, name = self.dataset.relation
        fixed = ",".join(f"{k}={v}" for k, v in self.fixed)
        return f"{schema}.{name}|{self.dataset.site.site_id}|{fixed}"

    def nominal_rows(self, start: datetime, end: datetime) -> int:
        """Rows the window would hold at the nominal cadence, every second present."""
        seconds = (end - start).total_seconds()
        return int(seconds / NOMINAL_CADENCE_S) * self.series_count


def fix_series(dataset: Dataset, bank: int | None, rack: int | None) -> tuple[tuple[str, int], ...]:
    """Validate bank/rack against the dataset's keys and the catalog (404 naming the missing
    one); a rack alone is enough on a site with a single bank."""
    site = dataset.site
    per = "site" if "bank_id" not in dataset.key_columns else "bank"
    if rack is not None and "rack_id" not in dataset.key_columns:
        raise bad_parameter("rack", f"{dataset.component} rows are per {per}, not per rack")
    if bank is not None and "bank_id" not in dataset.key_columns:
        raise bad_parameter("bank", f"{dataset.component} rows are per site, not per bank")
    fixed: list[tuple[str, int]] = []
    if rack is not None and bank is None:
        if len(site.rack_counts) != 1:
            raise bad_parameter("bank", "give the bank of the rack (the site has several)")
        bank = next(iter(site.rack_counts))
    if bank is not None:
        fixed.append(("bank_id", site.require_bank(bank)))
    if rack is not None:
        fixed.append(("rack_id", site.require_rack(bank, rack)))
    return tuple(fixed)


def select(dataset: Dataset, selected: Selected, fixed: tuple[tuple[str, int], ...]) -> Selection:
    return Selection(
        dataset=dataset,
        columns=selected.columns,
        fixed=fixed,
        window=selected.window,
        tz=selected.tz.key,
    )


def whole(dataset: Dataset) -> Selection:
    """All rows of the site's dataset (e.g. for its stored time range)."""
    return Selection(dataset, (), (), Window(None, None), dataset.site.timezone)


@dataclass(frozen=True)
class PagePlan:
    selection: Selection
    size: int
    offset: int  # rows skipped for page=N; 0 with a cursor
    cursor: Cursor | None
    count: str | None  # None | exact | estimated
    # the first row is located from the per-minute counts of the component's 1-minute
    # aggregate (execute.py), not reached by OFFSET
    seeks: bool = False
    json: bool = False  # the rows as JSON objects (else CSV lines)

    @property
    def first_page(self) -> bool:
        return self.cursor is None and self.offset == 0


def plan_page(
    selection: Selection, args: PageArgs, settings: OperatingDataSettings, json: bool = False
) -> PagePlan:
    cursor = None
    if args.cursor is not None:
        cursor = decode_cursor(
            settings.cursor_key, selection.scope, args.cursor, len(selection.order_keys)
        )
    offset = ((args.page or 1) - 1) * args.page_size
    if offset > settings.max_offset_rows:
        raise bad_parameter(
            "page",
            f"numbered pages reach row {settings.max_offset_rows} at most (each skips all rows "
            "before it); follow the next links, whose cursor costs the same at any depth, "
            "or narrow the window with start-time",
        )
    if args.count == "exact":
        window = selection.window
        if not window.bounded:
            raise bad_parameter(
                "count",
                "count=exact needs a bounded window (start-time and end-time, or date); "
                "count=estimated works on any window",
            )
        if selection.nominal_rows(window.start, window.end) > settings.count_max_rows:
            raise bad_parameter(
                "count",
                f"count=exact counts windows of at most {settings.count_max_rows} rows at one "
                "row per second and series; narrow the window or use count=estimated",
            )
    return PagePlan(
        selection,
        args.page_size,
        offset,
        cursor,
        args.count,
        seeks(selection, offset, settings),
        json,
    )


def seeks(selection: Selection, offset: int, settings: OperatingDataSettings) -> bool:
    """Whether a numbered page is sought: only a component's own rows have the 1-minute
    aggregate, and only from `seek_min_offset` rows on, below which OFFSET costs less than the
    seek's extra statements (docs/operating-data.md)."""
    dataset = selection.dataset
    own_rows = dataset.relation == ("ess", dataset.component)
    return own_rows and offset > 0 and offset >= settings.seek_min_offset


def plan_slices(window: Window, series_count: int, slice_rows: int) -> list[Window]:
    """Consecutive half-open slices covering the window, each about `slice_rows` rows at the
    nominal cadence (at least a second), so one COPY never builds more than that."""
    assert window.start is not None and window.end is not None
    span = timedelta(seconds=max(1.0, slice_rows * NOMINAL_CADENCE_S / max(series_count, 1)))
    slices = []
    start = window.start
    while start < window.end:
        end = min(start + span, window.end)
        slices.append(Window(start, end))
        start = end
    return slices


@dataclass(frozen=True)
class MinuteCounts:
    """What the 1-minute aggregate of a component counts exactly within a window (from
    ess.minute_count_coverage): whole buckets before `materialized_until`, except `stale`."""

    table: tuple[str, str]  # the aggregate's materialized hypertable (schema, name)
    width: timedelta
    origin: datetime
    materialized_until: datetime
    stale: tuple[Window, ...]

    def floor(self, instant: datetime) -> datetime:
        return instant - (instant - self.origin) % self.width

    def ceil(self, instant: datetime) -> datetime:
        floor = self.floor(instant)
        return floor if floor == instant else floor + self.width


def count_spans(window: Window, counts: MinuteCounts) -> tuple[list[Window], list[Window]]:
    """Split a bounded window into spans of whole buckets whose stored counts are exact, and
    the rest (partial buckets at the window's ends, buckets written since their refresh, and
    everything from the watermark on), whose rows are counted from the raw table. Both lists
    are in time order; together they cover the window without overlap."""
    assert window.start is not None and window.end is not None
    exact: list[Window] = []
    start = counts.ceil(window.start)
    end = counts.floor(min(window.end, counts.materialized_until))
    for stale in sorted(counts.stale, key=lambda w: w.start):
        stale_start, stale_end = counts.floor(stale.start), counts.ceil(stale.end)
        if start < min(stale_start, end):
            exact.append(Window(start, min(stale_start, end)))
        start = max(start, stale_end)
    if start < end:
        exact.append(Window(start, end))
    raw: list[Window] = []
    start = window.start
    for span in exact:
        if start < span.start:
            raw.append(Window(start, span.start))
        start = span.end
    if start < window.end:
        raw.append(Window(start, window.end))
    return exact, raw
