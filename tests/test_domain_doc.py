"""docs/domain.md and the database hold the same protection map and SoS parameters: the
documented tables are read and compared with what every reference site has in force."""

from __future__ import annotations

import re

import pytest

from tests.helpers import REPO_ROOT, markdown_rows

DOMAIN_DOC = REPO_ROOT / "docs" / "domain.md"
QUANTITY = re.compile(r"(?P<value>-?[\d.]+) (?P<unit>\S+)")  # "4.05 V", "-10 °C"


def measure(cell: str) -> tuple[float | None, str | None]:
    match = QUANTITY.search(cell)
    return (float(match["value"]), match["unit"]) if match else (None, None)


def documented_thresholds() -> dict[int, tuple]:
    """code -> (hazard, direction, warning level, fault level, unit)."""
    documented = {}
    for _, row in markdown_rows(DOMAIN_DOC, "Protection map"):
        warning, warning_unit = measure(row["warning (level 1)"])
        fault, fault_unit = measure(row["fault (level 2)"])
        limits = row["warning (level 1)"] + row["fault (level 2)"]
        direction = "above" if ">" in limits else "below"
        unit = warning_unit or fault_unit
        assert warning_unit in (None, unit) and fault_unit == unit, row
        hazard = row["hazard"].split()[0]
        documented[int(row["code"])] = (hazard, direction, warning, fault, unit)
    return documented


def documented_sos_parameters() -> dict[str, tuple]:
    """hazard -> (h_s, h_w, unit)."""
    documented = {}
    for _, row in markdown_rows(DOMAIN_DOC, "SoS, State of Safety"):
        h_w, unit = measure(row["h_w"])
        h_s, h_s_unit = measure(row["h_s"])
        assert h_s_unit == unit, row
        documented[row["hazard"]] = (h_s, h_w, unit)
    return documented


@pytest.mark.parametrize("site", [1, 2, 3])
def test_the_documented_protection_map_is_in_force(conn, site):
    in_force = {
        code: (hazard, direction, warning, fault, unit)
        for code, hazard, direction, warning, fault, unit in conn.execute(
            "SELECT code, hazard, direction, warning_level, fault_level, unit "
            "FROM ess.site_protection_thresholds(%s)",
            (site,),
        )
    }
    assert len(documented_thresholds()) == 8
    assert in_force == documented_thresholds()


@pytest.mark.parametrize("site", [1, 2, 3])
def test_the_documented_sos_parameters_are_in_force(conn, site):
    in_force = {
        hazard: (h_s, h_w, unit)
        for hazard, h_s, h_w, unit in conn.execute(
            "SELECT hazard, h_s, h_w, unit FROM ess.site_sos_parameters(%s)", (site,)
        )
    }
    assert len(documented_sos_parameters()) == 7
    assert in_force == documented_sos_parameters()
