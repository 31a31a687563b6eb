"""What a request reads: one relation, one site, and the columns published from it.

A Dataset is the only thing the planner, the SQL builder and the CSV streamer know about the
data. The operating-data endpoints read the hypertables (`ess.rack`, ...) with the site's own
columns under their own names; the de-identified endpoints read a view under other names. Both
pass a Dataset and reuse everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from api.catalog.model import Catalog, Site

TIME_NAME = "timestamp"  # output name of the time column (JSON key, CSV header)
# Operating data arrives once a second per series; used to size download slices and to bound
# exact counts (work limits), never to select rows.
NOMINAL_CADENCE_S = 1.0


@dataclass(frozen=True)
class OutputColumn:
    source: str  # column of the relation (an identifier from the catalog)
    name: str  # published name: JSON key and CSV header
    value_type: str  # float | integer | json: how a CSV value becomes a JSON value


@dataclass(frozen=True)
class Dataset:
    relation: tuple[str, str]  # (schema, table or view)
    component: str  # bank | rack | pcs | etc
    site: Site
    columns: tuple[OutputColumn, ...]  # published columns, key columns first, time excluded
    key_columns: tuple[str, ...]  # source names of the series keys besides time, e.g. bank, rack
    time_source: str = "ts"
    site_column: str = "site_id"
    # what a Parquet or Arrow file states about its source besides site, window and columns,
    # e.g. the identifier of the de-identification key
    provenance: tuple[tuple[str, str], ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """Every published name, the time column first."""
        return (TIME_NAME, *(c.name for c in self.columns))

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.source in self.key_columns)

    def by_name(self, name: str) -> OutputColumn:
        return next(c for c in self.columns if c.name == name)

    def series_count(self, fixed: dict[str, int]) -> int:
        """How many series (rows per timestamp) a selection with these fixed keys spans."""
        return self.site.series_count(self.key_columns, fixed.get("bank_id"), fixed.get("rack_id"))

    def republished(self, relation: tuple[str, str], rename: Callable[[str], str]) -> Dataset:
        """The same data read from another relation whose columns are renamed by `rename`
        (sources and published names alike); key columns keep their names."""
        return replace(
            self,
            relation=relation,
            columns=tuple(
                c
                if c.source in self.key_columns
                else replace(c, source=rename(c.source), name=rename(c.name))
                for c in self.columns
            ),
        )


def operating_dataset(catalog: Catalog, site: Site, component: str) -> Dataset:
    """The site's own columns of `ess.<component>`, the series keys first."""
    site_columns = site.columns.get(component, ())
    by_name = {c.name: c for c in site_columns}
    keys = tuple(k for k in catalog.key_columns[component] if k in by_name)
    ordered = [by_name[k] for k in keys] + [c for c in site_columns if c.name not in keys]
    return Dataset(
        relation=("ess", component),
        component=component,
        site=site,
        columns=tuple(OutputColumn(c.name, c.name, c.value_type) for c in ordered),
        key_columns=keys,
    )
