"""GET /api/ess/operating-sites/ and /operating-sites/{site}/: what the catalog publishes,
with the units of the columns and the time range of the stored rows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec
import psycopg
from litestar import Controller, Request, get
from litestar.params import FromPath

from api.catalog.model import Catalog, Site
from api.catalog.units import unit_of
from api.operating_data.dataset import operating_dataset
from api.operating_data.execute import stored_bounds
from api.operating_data.plan import whole
from api.replicas import reads


class ColumnInfo(msgspec.Struct):
    name: str
    type: str
    unit: str | None


class TimeRange(msgspec.Struct):
    """First and last stored row (both included), with the site's offset."""

    first: str
    last: str


class ComponentInfo(msgspec.Struct):
    component: str
    key_columns: list[str]
    columns: list[ColumnInfo]
    time_range: TimeRange | None  # None: no rows stored yet


class BankInfo(msgspec.Struct):
    bank_id: int
    rack_count: int


class SiteInfo(msgspec.Struct):
    site_id: int
    code: str
    name: str
    name_ko: str | None
    timezone: str
    topology: dict
    banks: list[BankInfo]
    components: list[ComponentInfo]
    data_since: str | None
    retired_on: str | None


def time_ranges(conn: psycopg.Connection, catalog: Catalog, site: Site) -> dict[str, TimeRange]:
    """Per component, from index probes at both ends (no scan)."""
    zone = ZoneInfo(site.timezone)
    ranges = {}
    for component, columns in site.columns.items():
        if columns:
            bounds = stored_bounds(conn, whole(operating_dataset(catalog, site, component)))
            if bounds is not None:
                first, last = (moment.astimezone(zone).isoformat() for moment in bounds)
                ranges[component] = TimeRange(first, last)
    return ranges


def site_info(catalog: Catalog, site: Site, ranges: dict[str, TimeRange]) -> SiteInfo:
    return SiteInfo(
        site_id=site.site_id,
        code=site.code,
        name=site.name,
        name_ko=site.name_ko,
        timezone=site.timezone,
        topology=site.topology,
        banks=[BankInfo(b, n) for b, n in sorted(site.rack_counts.items())],
        components=[
            ComponentInfo(
                component=component,
                key_columns=[
                    k for k in catalog.key_columns[component] if k in site.column_names(component)
                ],
                columns=[
                    ColumnInfo(c.name, c.value_type, unit_of(c.name, c.value_type)) for c in columns
                ],
                time_range=ranges.get(component),
            )
            for component, columns in site.columns.items()
            if columns
        ],
        data_since=site.data_since,
        retired_on=site.retired_on,
    )


def catalog_of(request: Request) -> Catalog:
    return request.app.state.catalog


class SiteController(Controller):
    path = "/api/ess/operating-sites"
    tags = ["catalog"]

    @get("/", summary="List the operating sites", sync_to_thread=True)
    def list_sites(self, request: Request) -> list[SiteInfo]:
        catalog = catalog_of(request)
        with reads(request).connection() as conn:
            return [
                site_info(catalog, s, time_ranges(conn, catalog, s)) for s in catalog.sites.values()
            ]

    @get(
        "/{site:int}/",
        summary="One operating site with its banks, racks and columns",
        sync_to_thread=True,
    )
    def get_site(self, request: Request, site: FromPath[int]) -> SiteInfo:
        catalog = catalog_of(request)
        found = catalog.require_site(site)
        with reads(request).connection() as conn:
            return site_info(catalog, found, time_ranges(conn, catalog, found))
