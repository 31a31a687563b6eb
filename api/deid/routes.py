"""The de-identified endpoints (the specification's `di` URLs).

- GET /api/ess/di/operating-sites/[{site}/]: the data dictionary, so that the tokens stay usable
  (which component, which type, what kind of value) without naming them.
- The same query, latest and download URLs as the operating data under /api/ess/di/ and
  /api/ess/download/di/, served by the operating-data machinery over the generated views: only
  published names exist there, so no raw sensitive name can reach a row, a CSV header, a
  `fields` error or the OpenAPI document.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get
from litestar.openapi.spec import Example
from litestar.params import FromPath, QueryParameter

from api.catalog.model import Catalog
from api.deid.model import SCHEMA, DeidCatalog, DeidView, deid_dataset
from api.operating_data.dataset import Dataset
from api.operating_data.routes import operating_data_controllers


class PublishedColumn(msgspec.Struct):
    name: str
    type: str
    sensitive: bool
    description: str


class DeidComponent(msgspec.Struct):
    component: str
    view: str
    key_columns: list[str]
    columns: list[PublishedColumn]


class DeidSite(msgspec.Struct):
    site_id: int
    name: str
    timezone: str
    components: list[DeidComponent]


def deid_site(catalog: Catalog, deid: DeidCatalog, site_id: int) -> DeidSite:
    site = catalog.require_site(site_id)

    def component(view: DeidView) -> DeidComponent:
        names = {c.name for c in view.columns}
        return DeidComponent(
            component=view.component,
            view=f"{SCHEMA}.{view.view}",
            key_columns=[k for k in catalog.key_columns[view.component] if k in names],
            columns=[
                PublishedColumn(c.name, c.value_type, c.sensitive, c.description)
                for c in view.columns
            ],
        )

    return DeidSite(
        site_id=site.site_id,
        name=site.name,
        timezone=site.timezone,
        components=[component(v) for v in deid.components(site.site_id)],
    )


class DeidDictionaryController(Controller):
    path = "/api/ess/di/operating-sites"
    tags = ["de-identified data"]

    @get("/", summary="The de-identified data dictionary of every operating site")
    async def list_sites(self, request: Request) -> list[DeidSite]:
        catalog, deid = request.app.state.catalog, request.app.state.deid
        return [deid_site(catalog, deid, s) for s in catalog.sites if deid.components(s)]

    @get(
        "/{site:int}/",
        summary="The de-identified data dictionary of one operating site",
        description="Each published column with its type and a description that does not "
        "reveal the original name. Sensitive columns (fault, warning and protection flags, "
        "vendor fault codes) are published as `<prefix>_<token>`, prefix bk, rk, ps or ec by "
        "component; the token is a keyed HMAC of the original name, stable while the key is.",
    )
    async def get_site(self, request: Request, site: FromPath[int]) -> DeidSite:
        return deid_site(request.app.state.catalog, request.app.state.deid, site)


def deid_dataset_for(request: Request, site_id: int, component: str) -> Dataset:
    catalog = request.app.state.catalog
    return deid_dataset(catalog, request.app.state.deid, catalog.require_site(site_id), component)


# the operating data's parameter documentation names raw columns; here only published names
PUBLISHED_NAME_DOCS = {
    "fields": QueryParameter(
        name="fields",
        annotation=str | None,
        required=False,
        description="Comma-separated published names to return, in this order (listed by "
        "GET /api/ess/di/operating-sites/{site}/; sensitive columns go by their token, e.g. "
        "rk_0123456789ab). timestamp and the key columns always come first. An unknown name is "
        "a 400 listing the valid ones.",
        examples=[Example(value="rack_soc,rack_voltage,rack_current")],
    ),
    "omit": QueryParameter(
        name="omit",
        annotation=str | None,
        required=False,
        description="Comma-separated published names to leave out.",
        examples=[Example(value="rack_soh")],
    ),
}


def _published_names_only(controllers: list[type[Controller]]) -> list[type[Controller]]:
    for controller in controllers:
        controller.parameters = {**controller.parameters, **PUBLISHED_NAME_DOCS}
    return controllers


DEID_ROUTES = [
    DeidDictionaryController,
    *_published_names_only(
        operating_data_controllers(
            prefix="/api/ess/di/operating-sites",
            download_prefix="/api/ess/download/di/operating-sites",
            dataset_for=deid_dataset_for,
            tag="de-identified data",
        )
    ),
]
