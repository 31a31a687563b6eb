"""What the API publishes de-identified: the generated views and their dictionary, read from the
database at startup like the catalog (the API never needs the key to serve them)."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from api.catalog.model import Catalog, Site
from api.errors import ProblemError
from api.operating_data.dataset import Dataset, OutputColumn

SCHEMA = "ess_deid"
# the view columns every dataset has besides the published ones
STRUCTURAL = ("ts", "site_id")
DICTIONARY_SQL = (
    "SELECT site_id, component, view_name, published_name, value_type, sensitive, description"
    " FROM ess_deid.dictionary ORDER BY site_id, component, ordinal"
)


@dataclass(frozen=True)
class DeidColumn:
    name: str  # published name: the raw name, or a token
    value_type: str
    sensitive: bool
    description: str


@dataclass(frozen=True)
class DeidView:
    site_id: int
    component: str
    view: str  # name in schema ess_deid
    columns: tuple[DeidColumn, ...]  # without ts and site_id, in the view's order


@dataclass(frozen=True)
class DeidCatalog:
    views: dict[tuple[int, str], DeidView]
    key_id: str | None = None  # public identifier of the views' key (names.key_id)

    def components(self, site_id: int) -> list[DeidView]:
        return [v for (s, _), v in sorted(self.views.items()) if s == site_id]

    def require(self, site_id: int, component: str) -> DeidView:
        view = self.views.get((site_id, component))
        if view is None:
            raise ProblemError(
                503,
                f"the de-identified {component} data of operating site {site_id} is not "
                "generated yet; the operator runs `ess deid apply`",
                "site",
            )
        return view


def load_deid_catalog(conn: psycopg.Connection) -> DeidCatalog:
    grouped: dict[tuple[int, str], tuple[str, list[DeidColumn]]] = {}
    for site_id, component, view, name, value_type, sensitive, description in conn.execute(
        DICTIONARY_SQL
    ).fetchall():
        if name in STRUCTURAL:
            continue
        _, columns = grouped.setdefault((site_id, component), (view.split(".", 1)[-1], []))
        columns.append(DeidColumn(name, value_type, sensitive, description))
    stored_key_id = conn.execute("SELECT key_id FROM ess_deid.key_identifier").fetchone()
    return DeidCatalog(
        {
            key: DeidView(key[0], key[1], view, tuple(columns))
            for key, (view, columns) in grouped.items()
        },
        stored_key_id[0] if stored_key_id else None,
    )


def deid_dataset(catalog: Catalog, deid: DeidCatalog, site: Site, component: str) -> Dataset:
    """The site's de-identified view as a dataset: published names only, the series keys
    first, then the view's order (tokens sorted by token, never in the vendor's order)."""
    view = deid.require(site.site_id, component)
    names = [c.name for c in view.columns]
    keys = tuple(k for k in catalog.key_columns[component] if k in names)
    ordered = [c for k in keys for c in view.columns if c.name == k] + [
        c for c in view.columns if c.name not in keys
    ]
    return Dataset(
        relation=(SCHEMA, view.view),
        component=component,
        site=site,
        columns=tuple(OutputColumn(c.name, c.name, c.value_type) for c in ordered),
        key_columns=keys,
        provenance=(("deid_key_id", deid.key_id or "unknown"),),
    )
