"""The catalog of what the database publishes: sites, their banks and racks, and the columns
each site reports per component. Read once from the database and cached (pg_featureserv-style);
every identifier the API puts into SQL comes from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from api.errors import not_found

CATALOG_SQL = (Path(__file__).parent / "catalog.sql").read_text()
COMPONENTS = ("bank", "rack", "pcs", "etc")


@dataclass(frozen=True)
class Column:
    name: str
    value_type: str  # float | integer | json (logical type, per site)
    sql_type: str  # the hypertable column's type


@dataclass(frozen=True)
class Site:
    site_id: int
    code: str
    name: str
    name_ko: str | None
    timezone: str
    topology: dict
    data_since: str | None
    retired_on: str | None
    rack_counts: dict[int, int]  # bank_id -> number of racks
    columns: dict[str, tuple[Column, ...]] = field(default_factory=dict)  # component -> columns

    def has_bank(self, bank_id: int) -> bool:
        return bank_id in self.rack_counts

    def has_rack(self, bank_id: int, rack_id: int) -> bool:
        return 1 <= rack_id <= self.rack_counts.get(bank_id, 0)

    def series_count(
        self, key_columns: tuple[str, ...], bank: int | None = None, rack: int | None = None
    ) -> int:
        """How many series (rows per timestamp) a component keyed by `key_columns` has, with
        bank and rack fixed or not: all racks of a bank, all racks, all banks, or one."""
        if "rack_id" in key_columns and rack is None:
            banks = [bank] if bank is not None else list(self.rack_counts)
            return sum(self.rack_counts.get(b, 0) for b in banks)
        if "bank_id" in key_columns and bank is None:
            return len(self.rack_counts)
        return 1

    def column_names(self, component: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns.get(component, ()))

    def require_bank(self, bank_id: int) -> int:
        if not self.has_bank(bank_id):
            raise not_found(
                "bank",
                f"operating site {self.site_id} has no bank {bank_id} "
                f"(banks: {', '.join(map(str, sorted(self.rack_counts)))})",
            )
        return bank_id

    def require_rack(self, bank_id: int, rack_id: int) -> int:
        self.require_bank(bank_id)
        if not self.has_rack(bank_id, rack_id):
            raise not_found(
                "rack",
                f"bank {bank_id} of operating site {self.site_id} has no rack {rack_id} "
                f"(racks 1 to {self.rack_counts[bank_id]})",
            )
        return rack_id


@dataclass(frozen=True)
class Catalog:
    sites: dict[int, Site]
    key_columns: dict[str, tuple[str, ...]]  # component -> series key besides the time column
    token_prefixes: dict[str, str]

    def site(self, site_id: int) -> Site | None:
        return self.sites.get(site_id)

    def require_site(self, site_id: int) -> Site:
        site = self.sites.get(site_id)
        if site is None:
            raise not_found("site", f"operating site {site_id} does not exist")
        return site


def load_catalog(conn: psycopg.Connection) -> Catalog:
    rows = conn.execute(CATALOG_SQL).fetchall()
    components = conn.execute(
        "SELECT component, key_columns, token_prefix FROM ess.component"
    ).fetchall()
    sites: dict[int, Site] = {}
    for site_id, code, name, name_ko, tz, topology, since, retired, banks, columns in rows:
        by_component: dict[str, list[Column]] = {c: [] for c in COMPONENTS}
        for component, col, value_type, sql_type in columns or []:
            by_component.setdefault(component, []).append(Column(col, value_type, sql_type))
        sites[site_id] = Site(
            site_id=site_id,
            code=code,
            name=name,
            name_ko=name_ko,
            timezone=tz,
            topology=topology,
            data_since=since.isoformat() if since else None,
            retired_on=retired.isoformat() if retired else None,
            rack_counts={int(k): v for k, v in (banks or {}).items()},
            columns={k: tuple(v) for k, v in by_component.items()},
        )
    return Catalog(
        sites=sites,
        key_columns={c: tuple(keys) for c, keys, _ in components},
        token_prefixes={c: prefix for c, _, prefix in components},
    )
