"""Signed download links: a raw download without an Authorization header, once, for a minute,
for the path and query it was signed for."""

from __future__ import annotations

import time

import pytest

from api.auth.signed_links import LINK_LIFETIME_S, SignedLinks
from api.errors import ProblemError
from tests.helpers import assert_problem, bearer, settings_for_tests
from tests.operating_data_site import create_site

LINKS = "/api/ess/download-links/"


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        return create_site(conn)


def download_path(site: int) -> str:
    """One minute of rack (1, 1): 60 rows."""
    return (
        f"/api/ess/download/operating-sites/{site}/rack/?start-time=2022-05-10T10:00:00"
        "&end-time=2022-05-10T10:01:00&bank=1&rack=1&fields=rack_soc"
    )


def signed_link(client, site: int) -> str:
    response = client.post(LINKS, json={"url": download_path(site)})
    assert response.status_code == 200, response.text
    assert response.json()["expires_in"] == LINK_LIFETIME_S
    return response.json()["url"]


def test_a_signed_link_downloads_once_without_a_header(client, anonymous_client, site):
    link = signed_link(client, site)
    assert link.startswith(download_path(site) + "&signed=")
    first = anonymous_client.get(link)
    assert first.status_code == 200, first.text
    lines = first.text.splitlines()
    assert lines[0] == "timestamp,bank_id,rack_id,rack_soc" and len(lines) == 61
    body = assert_problem(anonymous_client.get(link), 403, "signed")
    assert "already used" in body["detail"]


def test_an_altered_link_is_refused(client, anonymous_client, site):
    link = signed_link(client, site)
    for altered in (
        link.replace("rack=1", "rack=2"),  # another rack
        link.replace("fields=rack_soc", "fields=rack_voltage"),
        link.replace(f"/{site}/", f"/{site + 1}/"),
        link[:-2] + ("AA" if not link.endswith("AA") else "BB"),  # the signature itself
    ):
        body = assert_problem(anonymous_client.get(altered), 403, "signed")
        assert "altered" in body["detail"]


def test_an_expired_link_is_refused():
    links = SignedLinks(settings_for_tests())
    path, query = "/api/ess/download/operating-sites/2/rack/", "date=2023-04-10"
    link = links.sign(path, query, now=time.time() - LINK_LIFETIME_S - 1)
    signed_query = link.partition("?")[2]
    with pytest.raises(ProblemError) as refused:
        links.check(path, signed_query)
    assert refused.value.status_code == 401 and "expired" in refused.value.detail
    links.check(path, links.sign(path, query).partition("?")[2])  # a fresh one passes


def test_an_expired_link_answers_401_over_http(client, anonymous_client, site):
    links: SignedLinks = client.app.state.signed_links
    path, _, query = download_path(site).partition("?")
    link = links.sign(path, query, now=time.time() - LINK_LIFETIME_S - 1)
    body = assert_problem(anonymous_client.get(link), 401, "signed")
    assert "expired" in body["detail"]


def test_minting_needs_a_raw_token_for_that_site(anonymous_client, site):
    url = {"url": download_path(site)}
    assert_problem(anonymous_client.post(LINKS, json=url), 401, "Authorization")
    deid_only = anonymous_client.post(LINKS, json=url, headers=bearer(["ess:deid:read"]))
    assert_problem(deid_only, 403, "Authorization")
    other_site = anonymous_client.post(LINKS, json=url, headers=bearer(sites=[site + 1]))
    assert_problem(other_site, 403, "Authorization")


@pytest.mark.parametrize(
    "url",
    [
        "/api/ess/download/di/operating-sites/2/rack/?date=2023-04-10",  # public anyway
        "/api/ess/operating-sites/2/banks/1/",  # a page, not a download
        "http://elsewhere.example/api/ess/download/operating-sites/2/rack/?date=2023-04-10",
    ],
)
def test_only_raw_download_paths_are_signed(client, url):
    assert_problem(client.post(LINKS, json={"url": url}), 400, "url")


def test_a_link_only_opens_downloads(client, anonymous_client, site):
    link = signed_link(client, site)
    page = f"/api/ess/operating-sites/{site}/banks/1/racks/1/?" + link.partition("?")[2]
    assert_problem(anonymous_client.get(page), 403, "signed")
