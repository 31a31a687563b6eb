"""De-identified names and views: keyed tokens, stability, rotation, no collisions, no raw
sensitive name and no key anywhere in what the database publishes."""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql

from api.catalog.model import load_catalog
from api.config import REPO_ROOT, Settings
from api.deid import apply_views
from api.deid.names import (
    MIN_TOKEN_HEX,
    DeidKeyError,
    Pattern,
    Rules,
    digest,
    load_rules,
    plan,
    token_length,
)
from api.deid.views import check_views, stale_views
from api.migrate import migrate
from tests.helpers import TEST_DEID_KEY, sensitive_names

OTHER_KEY = "another-deid-key-" + "0f1e2d3c4b5a6978" * 2
TOKEN = re.compile(r"^(bk|rk|ps|ec)_[0-9a-f]+$")


@pytest.fixture
def rules(conn) -> Rules:
    return load_rules(conn)


def test_the_rule_and_the_vendor_patterns_pick_the_sensitive_columns(rules):
    for component, name in [
        ("bank", "rack_over_temperature_fault"),
        ("rack", "RACK_UNDER_VOLTAGE_PROTECTION_WARNING"),  # case-insensitive
        ("pcs", "pcs_protection_1_3"),
        ("pcs", "flt_ovar"),  # site 2's vendor codes
        ("pcs", "st_fault"),
        ("pcs", "gate_err_a"),  # site 3's
        ("pcs", "overheat"),
        ("pcs", "eeprom_write_error"),
        ("pcs", "ov_vdc"),
        ("pcs", "pms_e_stop"),
    ]:
        assert rules.is_sensitive(component, name), name
    for component, name in [
        ("rack", "rack_soc"),
        ("rack", "rack_max_cell_voltage"),
        ("pcs", "ai_vdc"),
        ("pcs", "state_of_pcs"),
        ("bank", "order_source"),  # '*_source' is a PCS pattern only
        ("etc", "sensor1_temperature"),
    ]:
        assert not rules.is_sensitive(component, name), name


def test_patterns_are_configurable_per_component():
    rules = Rules((Pattern("aux_*", "etc", "vendor code"),))
    assert rules.is_sensitive("etc", "aux_trip")
    assert not rules.is_sensitive("pcs", "aux_trip")
    assert rules.description("etc", "AUX_TRIP", "integer") == "vendor code"


def test_tokens_are_keyed_stable_and_change_with_the_key(catalog, rules):
    first, again = plan(catalog, rules, TEST_DEID_KEY), plan(catalog, rules, TEST_DEID_KEY)
    other = plan(catalog, rules, OTHER_KEY)
    assert first == again
    tokens = {p.source: p.name for p in first.columns[(2, "rack")] if p.sensitive}
    rotated = {p.source: p.name for p in other.columns[(2, "rack")] if p.sensitive}
    assert tokens and tokens.keys() == rotated.keys()
    assert all(tokens[n] != rotated[n] for n in tokens)
    name = "rack_over_temperature_fault"
    assert tokens[name] == "rk_" + digest(TEST_DEID_KEY, name)[: first.token_hex]
    # an unsalted SHA-256 of the name (the earlier service) is not what is published
    import hashlib

    assert hashlib.sha256(name.encode()).hexdigest()[: first.token_hex] not in tokens[name]


def test_no_token_collides_within_a_site_over_every_column_of_every_site(catalog, rules):
    deid = plan(catalog, rules, TEST_DEID_KEY)
    assert deid.token_hex >= MIN_TOKEN_HEX
    for site in catalog.sites.values():
        published = [
            p.name
            for (s, _), cols in deid.columns.items()
            if s == site.site_id
            for p in cols
            if p.sensitive
        ]
        assert len(published) == len(set(published)), site.site_id
        for component, columns in site.columns.items():
            if columns:
                names = [p.name for p in deid.columns[(site.site_id, component)]]
                assert len(names) == len(columns) == len(set(names))


def test_the_truncation_grows_until_distinct_names_stay_distinct():
    names = [f"flag_{i}" for i in range(5000)]
    length = token_length(TEST_DEID_KEY, names)
    assert len({digest(TEST_DEID_KEY, n)[:length] for n in names}) == len(names)
    shorter = length - 1
    if length > MIN_TOKEN_HEX:
        assert len({digest(TEST_DEID_KEY, n)[:shorter] for n in names}) < len(names)


def test_a_weak_key_is_refused(catalog, rules):
    with pytest.raises(DeidKeyError):
        plan(catalog, rules, "short")


def test_tokens_do_not_follow_the_vendor_order(catalog, rules):
    # the raw catalog (public) lists the columns in the vendor's order: tokens in that order
    # would be mapped back to names by position
    for (_, _), columns in plan(catalog, rules, TEST_DEID_KEY).columns.items():
        tokens = [p.name for p in columns if p.sensitive]
        assert tokens == sorted(tokens)
        assert all(not p.sensitive for p in columns[: len(columns) - len(tokens)])


def test_descriptions_never_name_the_column(catalog, rules):
    descriptions = set()
    for columns in plan(catalog, rules, TEST_DEID_KEY).columns.values():
        for p in columns:
            if p.sensitive:
                assert TOKEN.match(p.name), p.name
                assert p.source not in p.description
                descriptions.add(p.description)
    # a handful of shared wordings, not one per column
    assert 1 < len(descriptions) <= 8


def view_columns(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT c.relname, a.attname FROM pg_attribute AS a"
        " JOIN pg_class AS c ON c.oid = a.attrelid WHERE c.relnamespace = 'ess_deid'::regnamespace"
        " AND c.relkind = 'v' AND a.attnum > 0"
    ).fetchall()
    views: dict[str, list[str]] = {}
    for view, column in rows:
        views.setdefault(view, []).append(column)
    return views


def test_views_publish_every_site_and_component_without_a_sensitive_name(conn, rules):
    apply_views(conn, TEST_DEID_KEY)  # sites other tests made since the session started
    catalog = load_catalog(conn)
    sensitive = sensitive_names(catalog, rules)
    views = view_columns(conn)
    for site in catalog.sites.values():
        for component, columns in site.columns.items():
            if not columns:
                continue
            published = views[f"site{site.site_id}_{component}"]
            assert published[:2] == ["ts", "site_id"]
            assert not sensitive & set(published)
            assert len(published) == len(columns) + 2
    dictionary = {r[0] for r in conn.execute("SELECT published_name FROM ess_deid.dictionary")}
    assert dictionary and not sensitive & dictionary


def test_apply_is_idempotent_and_rotation_recreates_the_views(conn, scratch_site):
    site = scratch_site(template_site=3, rack_counts=(2,))
    report = apply_views(conn, TEST_DEID_KEY)
    assert f"site{site}_pcs" in report.created and "site2_rack" in report.unchanged
    assert stale_views(conn, TEST_DEID_KEY) == []
    again = apply_views(conn, TEST_DEID_KEY)
    assert again.created == [] and again.dropped == []
    before = view_columns(conn)[f"site{site}_rack"]
    try:
        rotated = apply_views(conn, OTHER_KEY)
        assert f"site{site}_rack" in rotated.created
        after = view_columns(conn)[f"site{site}_rack"]
        plain = [c for c in before if not TOKEN.match(c)]
        assert plain == [c for c in after if not TOKEN.match(c)]
        assert set(before) - set(plain) and not (set(before) - set(plain)) & set(after)
        assert stale_views(conn, TEST_DEID_KEY)  # the old key no longer matches
    finally:
        apply_views(conn, TEST_DEID_KEY)
    assert view_columns(conn)[f"site{site}_rack"] == before


def test_values_timestamps_and_ids_are_kept(conn, scratch_site):
    site = scratch_site(template_site=2, rack_counts=(1,))
    conn.execute(
        "INSERT INTO ess.rack"
        " (ts, site_id, bank_id, rack_id, rack_soc, rack_over_temperature_fault)"
        " VALUES ('2024-03-01T00:00:00+09:00', %s, 1, 1, 55.5, 1)",
        (site,),
    )
    apply_views(conn, TEST_DEID_KEY)
    token = (
        "rk_"
        + digest(TEST_DEID_KEY, "rack_over_temperature_fault")[
            : plan(load_catalog(conn), load_rules(conn), TEST_DEID_KEY).token_hex
        ]
    )
    row = conn.execute(
        sql.SQL("SELECT ts, bank_id, rack_id, rack_soc, {} FROM {}").format(
            sql.Identifier(token), sql.Identifier("ess_deid", f"site{site}_rack")
        )
    ).fetchone()
    assert row[1:] == (1, 1, 55.5, 1)
    assert row[0].isoformat() == "2024-02-29T15:00:00+00:00"


def test_the_key_is_in_no_view_definition_and_no_table(conn):
    definitions = conn.execute("SELECT definition FROM pg_views").fetchall()
    assert definitions and not any(TEST_DEID_KEY in (d or "") for (d,) in definitions)
    functions = conn.execute("SELECT prosrc FROM pg_proc").fetchall()
    assert not any(TEST_DEID_KEY in (f or "") for (f,) in functions)
    tables = conn.execute(
        "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
        " WHERE schemaname IN ('ess', 'ess_deid')"
    ).fetchall()
    assert tables
    for (table,) in tables:
        found = conn.execute(
            sql.SQL("SELECT count(*) FROM {} AS t WHERE strpos(t::text, %s) > 0").format(
                sql.SQL(table)
            ),
            (TEST_DEID_KEY,),
        ).fetchone()[0]
        assert found == 0, table


def test_production_needs_the_key_and_views_made_with_it(conn, monkeypatch, tmp_path):
    production = Settings(environment="production", data_dir=tmp_path)
    monkeypatch.delenv("ESS_DEID_KEY", raising=False)
    with pytest.raises(DeidKeyError, match="ESS_DEID_KEY"):
        check_views(conn, production)
    monkeypatch.setenv("ESS_DEID_KEY", OTHER_KEY)
    with pytest.raises(DeidKeyError, match="ess deid apply"):
        check_views(conn, production)
    apply_views(conn, TEST_DEID_KEY)
    monkeypatch.setenv("ESS_DEID_KEY", TEST_DEID_KEY)
    check_views(conn, production)


def test_views_of_a_site_without_columns_are_dropped_with_their_dictionary(conn, scratch_site):
    site = scratch_site(template_site=1, rack_counts=(1,))
    created = apply_views(conn, TEST_DEID_KEY).created
    assert {f"site{site}_rack", f"site{site}_bank"} <= set(created)
    conn.execute("DELETE FROM ess.site_column WHERE site_id = %s", (site,))
    try:
        report = apply_views(conn, TEST_DEID_KEY)
        assert set(report.dropped) == {n for n in created if n.startswith(f"site{site}_")}
        assert not [name for name in view_columns(conn) if name.startswith(f"site{site}_")]
        in_dictionary = "SELECT count(*) FROM ess_deid.dictionary WHERE site_id = %s"
        assert conn.execute(in_dictionary, (site,)).fetchone()[0] == 0
    finally:  # the site gets its columns and views back for the tests that follow
        conn.execute(
            "INSERT INTO ess.site_column (site_id, component, column_name, value_type, ordinal)"
            " SELECT %s, component, column_name, value_type, ordinal FROM ess.site_column"
            " WHERE site_id = 1",
            (site,),
        )
        apply_views(conn, TEST_DEID_KEY)


def test_no_stored_function_names_a_token_and_migrate_keeps_the_views(conn):
    apply_views(conn, TEST_DEID_KEY)
    tokens = {
        name
        for (name,) in conn.execute(
            "SELECT published_name FROM ess_deid.dictionary WHERE sensitive"
        ).fetchall()
    }
    assert tokens
    functions = conn.execute("SELECT prosrc FROM pg_proc").fetchall()
    assert not [token for token in tokens if any(token in (f or "") for (f,) in functions)]
    assert "views/deid_views.sql" in migrate(conn, REPO_ROOT / "sql").reapplied
    assert stale_views(conn, TEST_DEID_KEY) == []
