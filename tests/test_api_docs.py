"""The API documentation pages work offline: Swagger UI from the app's own files, in Chromium."""

import json
import urllib.request

import pytest
import yaml

from api.app import create_app
from tests.browser import watch
from tests.helpers import settings_for_tests
from tests.live_server import serve

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def base_url(pool):
    with serve(create_app(pool=pool, settings=settings_for_tests())) as url:
        yield url


def operation_count(base_url: str) -> int:
    with urllib.request.urlopen(f"{base_url}/schema/openapi.json") as response:
        document = json.load(response)
    return sum(len(HTTP_METHODS & item.keys()) for item in document["paths"].values())


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger"])
def test_docs_draw_every_operation_from_local_files(base_url, browser, path):
    expected = operation_count(base_url)
    assert expected > 40
    watched = watch(browser.new_page())
    watched.page.goto(base_url + path)
    operations = watched.page.locator(".opblock")
    operations.nth(expected - 1).wait_for()
    assert operations.count() == expected
    watched.screenshot("schema" + path.removeprefix("/schema").replace("/", "-"))
    watched.assert_clean()


def test_try_it_out_on_a_public_endpoint_answers_200(base_url, browser):
    watched = watch(browser.new_page())
    page = watched.page
    page.goto(f"{base_url}/schema")
    operation = page.locator(
        ".opblock-get", has=page.locator('[data-path="/api/ess/operating-sites"]')
    )
    operation.first.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    status = page.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    watched.assert_clean()


def test_yaml_document_stays_where_it_was(base_url):
    with urllib.request.urlopen(f"{base_url}/schema/openapi.yaml") as response:
        document = yaml.safe_load(response)
    assert document["openapi"].startswith("3.") and "/api/ess/operating-sites" in document["paths"]
