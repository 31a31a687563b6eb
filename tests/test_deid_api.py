"""The de-identified endpoints: paged and downloaded like the raw data, under published names
only. Every column of every site is scanned for a raw sensitive name in JSON rows, CSV headers,
errors and the OpenAPI document."""

from __future__ import annotations

import csv
import io
import json

import pytest

from api.catalog.model import load_catalog
from api.deid import apply_views
from api.deid.model import load_deid_catalog
from api.deid.names import digest, load_rules, plan
from tests.helpers import TEST_DEID_KEY, create_scratch_site, sensitive_names

EMPTY_WINDOW = {"start-time": "2001-01-01T00:00:00", "end-time": "2001-01-01T00:01:00"}
PATHS = {
    "bank": "banks/1/",
    "rack": "banks/1/racks/",
    "pcs": "pcs/",
    "etc": "etc/",
}


@pytest.fixture(scope="module")
def sensitive(pool) -> set[str]:
    with pool.connection() as conn:
        return sensitive_names(load_catalog(conn), load_rules(conn))


def assert_no_sensitive_name(text: str, sensitive: set[str]) -> None:
    found = [name for name in sensitive if name in text]
    assert not found, found


def token(pool, name: str, prefix: str) -> str:
    with pool.connection() as conn:
        deid = plan(load_catalog(conn), load_rules(conn), TEST_DEID_KEY)
    return f"{prefix}_{digest(TEST_DEID_KEY, name)[: deid.token_hex]}"


@pytest.fixture(scope="module")
def site(pool) -> int:
    """A site with two rack rows and one PCS row, its views generated."""
    with pool.connection() as conn:
        site = create_scratch_site(conn, template_site=3, rack_counts=(2,))
        conn.execute(
            "INSERT INTO ess.rack"
            " (ts, site_id, bank_id, rack_id, rack_soc, rack_over_temperature_fault)"
            " VALUES ('2024-03-01T09:00:00+09:00', %(s)s, 1, 1, 61.5, 1),"
            " ('2024-03-01T09:00:00+09:00', %(s)s, 1, 2, 62.5, 0)",
            {"s": site},
        )
        conn.execute(
            "INSERT INTO ess.pcs (ts, site_id, voltage, overheat, gate_err_a)"
            " VALUES ('2024-03-01T09:00:00+09:00', %s, 800.5, 1, 0)",
            (site,),
        )
        apply_views(conn, TEST_DEID_KEY)
    return site


@pytest.fixture
def public(site, anonymous_client):
    """A client without a token, started after the site and its views exist."""
    return anonymous_client


def test_rows_are_published_under_tokens_without_a_token(pool, public, site):
    response = public.get(
        f"/api/ess/di/operating-sites/{site}/banks/1/racks/", params={"date": "2024-03-01"}
    )
    assert response.status_code == 200, response.text
    rows = response.json()["results"]
    flag = token(pool, "rack_over_temperature_fault", "rk")
    assert [(r["rack_id"], r["rack_soc"], r[flag]) for r in rows] == [(1, 61.5, 1), (2, 62.5, 0)]
    assert rows[0]["timestamp"] == "2024-03-01T09:00:00+09:00"
    assert "rack_over_temperature_fault" not in rows[0]

    pcs = public.get(
        f"/api/ess/di/operating-sites/{site}/pcs/", params={"date": "2024-03-01"}
    ).json()["results"]
    assert pcs[0][token(pool, "overheat", "ps")] == 1 and pcs[0]["voltage"] == 800.5
    assert "overheat" not in pcs[0] and "gate_err_a" not in pcs[0]


def test_fields_take_published_names_and_errors_list_only_those(pool, public, site):
    flag = token(pool, "rack_over_temperature_fault", "rk")
    url = f"/api/ess/di/operating-sites/{site}/banks/1/racks/1/"
    rows = public.get(url, params={"date": "2024-03-01", "fields": flag}).json()
    assert list(rows["results"][0]) == ["timestamp", "bank_id", "rack_id", flag]

    refused = public.get(url, params={"fields": "rack_over_temperature_fault"})
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/problem+json")
    detail = refused.json()["detail"]
    assert flag in detail and "rack_soc" in detail
    # the rejected name is echoed (the client sent it), never offered as a valid one
    valid = detail.split("valid names are:", 1)[1]
    assert "rack_over_temperature_fault" not in valid


def test_paging_works_as_for_the_raw_data(public, site):
    url = f"/api/ess/di/operating-sites/{site}/banks/1/racks/"
    first = public.get(url, params={"date": "2024-03-01", "page_size": 1}).json()
    assert [r["rack_id"] for r in first["results"]] == [1]
    assert first["next"] and "/api/ess/di/operating-sites/" in first["next"]
    second = public.get(first["next"]).json()
    assert [r["rack_id"] for r in second["results"]] == [2]


def test_no_page_lists_the_rows_of_the_pages(pool, public, site):
    url = f"/api/ess/di/operating-sites/{site}/banks/1/racks/"
    first = public.get(url, params={"date": "2024-03-01", "page_size": 1}).json()
    pages = first["results"] + public.get(first["next"]).json()["results"]
    response = public.get(f"{url}?date=2024-03-01&no_page")
    assert response.status_code == 200, response.text
    assert response.json() == pages and len(pages) == 2
    assert token(pool, "rack_over_temperature_fault", "rk") in pages[0]
    assert "rack_over_temperature_fault" not in response.text


def test_download_streams_csv_with_tokens(pool, public, site):
    response = public.get(
        f"/api/ess/download/di/operating-sites/{site}/rack/", params={"date": "2024-03-01"}
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    flag = token(pool, "rack_over_temperature_fault", "rk")
    assert [(r["rack_id"], r[flag]) for r in rows] == [("1", "1"), ("2", "0")]


def test_every_site_and_component_publishes_no_sensitive_name(pool, public, sensitive):
    with pool.connection() as conn:
        catalog = load_catalog(conn)
        apply_views(conn, TEST_DEID_KEY)
        public.app.state.catalog = catalog
        public.app.state.deid = load_deid_catalog(conn)
    for site in catalog.sites.values():
        dictionary = public.get(f"/api/ess/di/operating-sites/{site.site_id}/")
        assert dictionary.status_code == 200
        assert_no_sensitive_name(dictionary.text, sensitive)
        for component, path in PATHS.items():
            if not site.columns.get(component):
                continue
            download = public.get(
                f"/api/ess/download/di/operating-sites/{site.site_id}/{component}/",
                params=EMPTY_WINDOW,
            )
            assert download.status_code == 200, download.text
            header = download.text.splitlines()[0].split(",")
            assert len(header) == len(site.columns[component]) + 1
            assert_no_sensitive_name(download.text, sensitive)
            # the "valid names" of an error, the CSV of a query page, the JSON page
            base = f"/api/ess/di/operating-sites/{site.site_id}/{path}"
            error = public.get(base, params={"fields": "nonexistent"})
            assert error.status_code == 400
            assert_no_sensitive_name(error.text, sensitive)
            as_csv = public.get(base, params=EMPTY_WINDOW, headers={"Accept": "text/csv"})
            assert as_csv.status_code == 200
            assert_no_sensitive_name(as_csv.text, sensitive)


def test_the_openapi_document_of_the_di_endpoints_names_no_sensitive_column(public, sensitive):
    schema = public.get("/schema/openapi.json").json()
    di = {path: item for path, item in schema["paths"].items() if "/di/" in path}
    assert len(di) >= 7
    assert_no_sensitive_name(json.dumps(di), sensitive)
