"""The load test's mix: each endpoint's URL and the SQL the API runs for it, in one place.

The statements come from the API's own parse, plan and SQL steps, fed the same query values as
the URL, so the raw engine's figures of bench/load_test.py run exactly what a request runs (the
plan-time questions too: the aggregate levels' verdict, a download's stored range) and cannot
drift from it. Only the HTTP server, the Python work around the rows and the pool are left out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from urllib.parse import urlencode

import psycopg

from api.analytics.aggregates.parse import aggregate_request
from api.analytics.aggregates.plan import plan
from api.analytics.aggregates.sql import (
    aggregate_levels,
    build_query,
    levels_statement,
    stored_levels,
)
from api.analytics.buckets import bucket_window
from api.analytics.protection.parse import parse_episodes
from api.analytics.protection.respond import EPISODE_KEYS
from api.analytics.protection.sql import episodes_statement
from api.analytics.series import series_of
from api.analytics.sos.sql import sos_statement
from api.catalog.model import Catalog, Site, load_catalog
from api.config import Settings
from api.db import Statement
from api.deid.model import DeidCatalog, deid_dataset, load_deid_catalog
from api.operating_data.dataset import Dataset, operating_dataset
from api.operating_data.execute import SLICE_WORK_MEM, stored_window
from api.operating_data.parse import (
    PageArgs,
    parse_download_args,
    parse_latest_args,
    parse_page_args,
)
from api.operating_data.plan import Selection, fix_series, plan_page, plan_slices, select
from api.operating_data.settings import OperatingDataSettings
from api.operating_data.sqlbuild import (
    bounds_query,
    copy_statement,
    json_rows_query,
    latest_query,
    rows_query,
)

DAY = "2023-04-10"
SITE, BANK, RACK = 2, 1, 1


@dataclass(frozen=True)
class RawStatement:
    """One statement as the API runs it: COPY to CSV (downloads), JSON rows as one text (pages)
    or rows fetched, in a transaction with the session settings the API sets (the output zone,
    a slice's work_mem)."""

    statement: Statement
    copy: bool = False
    header: bool = False  # the COPY prints a header line
    settings: tuple[tuple[str, str], ...] = ()
    json: bool = False  # the statement's one value holds the JSON rows, one per line

    def run(self, conn: psycopg.Connection) -> int:
        """Rows read (data lines of a COPY's CSV, lines of the JSON rows)."""
        query, params = self.statement
        with conn.transaction() if self.settings else nullcontext():
            for name, value in self.settings:
                conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            if self.json:
                text = conn.execute(query, params).fetchone()[0]
                return 0 if text is None else text.count("\n") + 1
            if not self.copy:
                return len(conn.execute(query, params).fetchall())
            with conn.cursor().copy(query, params) as copy:
                return sum(bytes(block).count(b"\n") for block in copy) - self.header


@dataclass(frozen=True)
class Context:
    """What the API reads at startup, and a connection for the plan-time questions."""

    conn: psycopg.Connection
    catalog: Catalog
    deid: DeidCatalog
    settings: OperatingDataSettings

    @classmethod
    def load(cls, conn: psycopg.Connection) -> Context:
        # the limits (slice rows...) from the environment, as `ess serve` reads them; the
        # cursor key is never used here
        settings = OperatingDataSettings.from_env(Settings(signing_key=secrets.token_hex(16)))
        return cls(conn, load_catalog(conn), load_deid_catalog(conn), settings)

    @property
    def site(self) -> Site:
        return self.catalog.require_site(SITE)

    def rack_dataset(self) -> Dataset:
        return operating_dataset(self.catalog, self.site, "rack")

    def deid_rack_dataset(self) -> Dataset:
        return deid_dataset(self.catalog, self.deid, self.site, "rack")


Statements = Callable[[Context, dict[str, str]], list[RawStatement]]


def _copy(
    selection: Selection, statement: Statement, header: bool = True, work_mem: str | None = None
) -> RawStatement:
    """A COPY of rows in the output zone (and with a download slice's work_mem)."""
    query, params = statement
    settings = (("TimeZone", selection.tz),) + ((("work_mem", work_mem),) if work_mem else ())
    return RawStatement((copy_statement(query, header), params), True, header, settings)


def _json(selection: Selection, statement: Statement) -> RawStatement:
    """JSON rows, as the API reads them for a JSON page, in the output zone."""
    return RawStatement(
        json_rows_query(statement), settings=(("TimeZone", selection.tz),), json=True
    )


def _page(dataset_of: Callable[[Context], Dataset]) -> Statements:
    def statements(context: Context, query: dict[str, str]) -> list[RawStatement]:
        dataset = dataset_of(context)
        settings = context.settings
        args = parse_page_args(dataset, query.items(), settings.download_max_span)
        assert isinstance(args, PageArgs)
        selection = select(dataset, args.selected, fix_series(dataset, BANK, RACK))
        page = plan_page(selection, args, settings)
        # the first page: one row more than the page tells whether another follows
        return [_json(selection, rows_query(selection, limit=page.size + 1))]

    return statements


def _latest(context: Context, query: dict[str, str]) -> list[RawStatement]:
    dataset = context.rack_dataset()
    selected = parse_latest_args(dataset, query.items())
    selection = select(dataset, selected, fix_series(dataset, BANK, None))
    return [_json(selection, latest_query(selection))]


def _average(context: Context, query: dict[str, str]) -> list[RawStatement]:
    request = aggregate_request(context.site, "bank", BANK, None, "avg:bank_soc", query)
    stored = [level for level in stored_levels(context.conn) if level.component == "bank"]
    chosen = plan(request, aggregate_levels(context.conn, request, stored))
    return [RawStatement(levels_statement(request, stored)), RawStatement(build_query(chosen))]


def _sos(context: Context, query: dict[str, str]) -> list[RawStatement]:
    series = series_of(context.catalog, SITE, BANK)
    window = bucket_window(context.conn, query, series.tz, series.rack_count())
    return [RawStatement(sos_statement(series, window))]


def _protection_map(context: Context, query: dict[str, str]) -> list[RawStatement]:
    return [RawStatement(episodes_statement(parse_episodes(context.site, query, EPISODE_KEYS)))]


class _Lent:
    """One connection where the API's code asks a pool for one."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        yield self.conn


def _download(context: Context, query: dict[str, str]) -> list[RawStatement]:
    """The stored range of the window, then one COPY per slice of it (CSV)."""
    dataset = context.rack_dataset()
    settings = context.settings
    args = parse_download_args(dataset, query.items(), settings.download_max_span)
    selection = select(dataset, args.selected, fix_series(dataset, args.bank, args.rack))
    stored = stored_window(_Lent(context.conn), selection)
    slices = plan_slices(stored, selection.series_count, settings.download_slice_rows) or [stored]
    return [RawStatement(bounds_query(selection))] + [
        _copy(selection, rows_query(selection, window=window), number == 0, SLICE_WORK_MEM)
        for number, window in enumerate(slices)
    ]


@dataclass(frozen=True)
class Endpoint:
    """A URL of the mix, and what one request of it runs, planned from the same query values."""

    path: str
    query: dict[str, str]
    statements: Statements

    @property
    def url(self) -> str:
        return f"{self.path}?{urlencode(self.query)}"


_BUCKETS = {"date": DAY, "time-bucket-width": "1hour"}
MIX = {
    "page": Endpoint(
        f"/api/ess/operating-sites/{SITE}/banks/{BANK}/racks/{RACK}/",
        {"date": DAY, "page_size": "100"},
        _page(Context.rack_dataset),
    ),
    "latest rows": Endpoint(
        f"/api/ess/operating-sites/{SITE}/banks/{BANK}/racks/latest/", {"date": DAY}, _latest
    ),
    "average": Endpoint(
        f"/api/ess/operating-sites/{SITE}/banks/{BANK}/stats/avg-bank-soc/", _BUCKETS, _average
    ),
    "SoS": Endpoint(
        f"/api/ess/stats/sos/operating-sites/{SITE}/banks/{BANK}/racks/", _BUCKETS, _sos
    ),
    "protection map": Endpoint(
        f"/api/ess-feature/protectionmap/operating-sites/{SITE}/",
        {"date": DAY, "page_size": "50"},
        _protection_map,
    ),
    "de-identified page": Endpoint(
        f"/api/ess/di/operating-sites/{SITE}/banks/{BANK}/racks/{RACK}/",
        {"date": DAY, "page_size": "100"},
        _page(Context.deid_rack_dataset),
    ),
    "download": Endpoint(
        f"/api/ess/download/operating-sites/{SITE}/rack/",
        {"date": DAY, "bank": str(BANK), "rack": str(RACK)},
        _download,
    ),
}


def raw_mix(conn: psycopg.Connection) -> dict[str, list[RawStatement]]:
    """Every endpoint's statements, planned on `conn` as the API would plan them now."""
    context = Context.load(conn)
    return {name: endpoint.statements(context, endpoint.query) for name, endpoint in MIX.items()}
