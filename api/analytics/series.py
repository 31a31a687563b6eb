"""The series a safety-indicator URL names: a bank (or all banks) and a rack (or all its racks),
validated against the catalog."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from litestar import Request

from api.catalog.model import Catalog, Site

RACK_KEYS = ("bank_id", "rack_id")
BANK_KEYS = ("bank_id",)


@dataclass(frozen=True)
class Series:
    site: Site
    bank: int | None
    rack: int | None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def rack_count(self) -> int:
        return self.site.series_count(RACK_KEYS, self.bank, self.rack)

    def bank_count(self) -> int:
        return self.site.series_count(BANK_KEYS, self.bank)

    def params(self) -> dict[str, object]:
        """The series as named SQL parameters."""
        return {"site": self.site.site_id, "bank": self.bank, "rack": self.rack}


def series_of(
    catalog: Catalog, site: int, bank: int | None = None, rack: int | None = None
) -> Series:
    """Validate the path against the catalog (404 naming the site, bank or rack)."""
    found = catalog.require_site(site)
    if rack is not None:
        found.require_rack(bank, rack)
    elif bank is not None:
        found.require_bank(bank)
    return Series(found, bank, rack)


def requested_series(
    request: Request, site: int, bank: int | None = None, rack: int | None = None
) -> Series:
    return series_of(request.app.state.catalog, site, bank, rack)
