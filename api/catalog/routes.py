"""GET /api/ess/operating-sites/ and /operating-sites/{site}/: what the catalog publishes."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromPath

from api.catalog.model import Catalog, Site


class ColumnInfo(msgspec.Struct):
    name: str
    type: str


class ComponentInfo(msgspec.Struct):
    component: str
    key_columns: list[str]
    columns: list[ColumnInfo]


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


def site_info(catalog: Catalog, site: Site) -> SiteInfo:
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
                columns=[ColumnInfo(c.name, c.value_type) for c in columns],
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

    @get("/", summary="List the operating sites")
    async def list_sites(self, request: Request) -> list[SiteInfo]:
        catalog = catalog_of(request)
        return [site_info(catalog, s) for s in catalog.sites.values()]

    @get("/{site:int}/", summary="One operating site with its banks, racks and columns")
    async def get_site(self, request: Request, site: FromPath[int]) -> SiteInfo:
        catalog = catalog_of(request)
        return site_info(catalog, catalog.require_site(site))
