"""The catalog lists exactly the columns of the column tables of docs/domain.md, per site and
component, with the documented type and unit."""

import re
from collections import defaultdict

from api.catalog.model import load_catalog
from api.catalog.units import unit_of
from tests.helpers import REPO_ROOT, markdown_rows

NUMBERED = re.compile(r"(.*)\{(\d+)\.\.(\d+)\}(.*)")  # `pcs_status_{0..11}`, zero-padded alike


def expand(name: str) -> list[str]:
    match = NUMBERED.fullmatch(name)
    if match is None:
        return [name]
    head, first, last, tail = match.groups()
    return [f"{head}{n:0{len(first)}d}{tail}" for n in range(int(first), int(last) + 1)]


def documented_columns() -> dict[int, dict[str, dict[str, tuple[str, str | None]]]]:
    """site -> component -> column -> (type, unit) from the tables under "## Columns"."""
    documented: dict = defaultdict(lambda: defaultdict(dict))
    for component, row in markdown_rows(REPO_ROOT / "docs" / "domain.md", "Columns"):
        names, value_type, unit, sites = row["columns"], row["type"], row["unit"], row["sites"]
        for name in (n for cell in names.split(",") for n in expand(cell.strip(" `"))):
            for site in map(int, sites.split()):
                assert name not in documented[site][component], (site, component, name)
                documented[site][component][name] = (value_type, unit or None)
    return documented


def test_catalog_lists_exactly_the_columns_of_each_site(conn):
    catalog = load_catalog(conn)
    documented = documented_columns()
    assert set(documented) == {1, 2, 3}
    for site_id, components in documented.items():
        site = catalog.site(site_id)
        assert set(site.columns) == set(components) == {"bank", "rack", "pcs", "etc"}
        for component, expected in components.items():
            names = site.column_names(component)
            assert len(names) == len(set(names))
            assert set(names) == set(expected), (site_id, component)
            published = {
                c.name: (c.value_type, unit_of(c.name, c.value_type))
                for c in site.columns[component]
            }
            assert published == expected, (site_id, component)


def test_reference_sites_topology_and_timezone(conn):
    catalog = load_catalog(conn)
    assert {s: catalog.site(s).rack_counts for s in (1, 2, 3)} == {
        1: {1: 8},
        2: {1: 9, 2: 8},
        3: {1: 11},
    }
    assert {catalog.site(s).timezone for s in (1, 2, 3)} == {"Asia/Seoul"}
    assert catalog.site(2).topology["cells_in_series"] == 240


def test_json_and_integer_columns_have_the_right_types(conn):
    catalog = load_catalog(conn)
    rack = {c.name: c for c in catalog.site(2).columns["rack"]}
    assert rack["rack_module_fault"].value_type == "json"
    assert rack["rack_module_fault"].sql_type == "jsonb"
    assert rack["rack_over_voltage_protection_fault"].value_type == "integer"
    assert rack["rack_soc"].sql_type == "double precision"


def test_series_keys_include_time(conn):
    keys = dict(
        conn.execute(
            """
            SELECT conrelid::regclass::text, pg_get_constraintdef(oid)
            FROM pg_constraint WHERE contype = 'u' AND connamespace = 'ess'::regnamespace
              AND conrelid::regclass::text IN ('ess.bank', 'ess.rack', 'ess.pcs', 'ess.etc')
            """
        ).fetchall()
    )
    assert keys == {
        "ess.rack": "UNIQUE (site_id, bank_id, ts, rack_id)",
        "ess.bank": "UNIQUE (site_id, bank_id, ts)",
        "ess.pcs": "UNIQUE (site_id, ts)",
        "ess.etc": "UNIQUE (site_id, ts)",
    }
    hypertables = {
        r[0]
        for r in conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = 'ess'"
        )
    }
    assert {"bank", "rack", "pcs", "etc"} <= hypertables


def test_a_new_site_is_data(scratch_site, conn):
    site_id = scratch_site(template_site=3, rack_counts=(4,))
    site = load_catalog(conn).site(site_id)
    assert site.rack_counts == {1: 4}
    assert set(site.column_names("pcs")) == set(documented_columns()[3]["pcs"])
