"""The web UI in headless Chromium, on a scratch site with two days of demo data at 60 s."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from datetime import date, timedelta

import pytest

from api.app import create_app
from api.db import connect
from api.deid import apply_views
from api.demo import generate
from tests.browser import watch
from tests.helpers import TEST_DEID_KEY, bearer, create_scratch_site, settings_for_tests
from tests.live_server import serve

DAY = date(2023, 4, 10)
PAGES = ("sites", "explorer", "safety", "forecasts", "download")


@pytest.fixture(scope="module")
def ui_site(migrated_url) -> int:
    with connect(migrated_url) as conn:
        site = create_scratch_site(conn, 2, (3, 2))
        generate(
            conn,
            sites=(site,),
            start=DAY,
            days=2,
            interval=timedelta(seconds=60),
            seed=5,
            compress=False,
        )
        apply_views(conn, TEST_DEID_KEY)  # the new site's de-identified views
    return site


@pytest.fixture(scope="module")
def base_url(pool, ui_site):
    # the app reads the catalog at startup: after the scratch site exists
    with serve(create_app(pool=pool, settings=settings_for_tests())) as url:
        yield url


TOKEN = bearer()["Authorization"].removeprefix("Bearer ")


def open_ui(browser, base_url: str, route: str, token: str | None = TOKEN):
    """A fresh tab on /ui/#route, with the token already pasted (sessionStorage) unless None."""
    context = browser.new_context(accept_downloads=True)
    if token:
        context.add_init_script(f"sessionStorage.setItem('ess.token', {json.dumps(token)})")
    watched = watch(context.new_page())
    watched.page.set_default_timeout(90_000)  # two cores shared by the whole test suite
    watched.page.goto(f"{base_url}/ui/#{route}")
    watched.page.locator("main[data-state=ready]").wait_for()
    return watched


def rows_in(pool, sql: str, site: int, start: str, end: str) -> int:
    # a connection only for this query: the embedded engine's pool has one, the app needs it
    with pool.connection() as conn:
        return conn.execute(sql, (site, start, end)).fetchone()[0]


RAW_ROWS = """SELECT count(*) FROM ess.rack WHERE site_id = %s AND bank_id = 1 AND rack_id = 1
    AND ts >= %s::timestamptz AND ts < %s::timestamptz"""
BUCKETS = """SELECT count(DISTINCT date_trunc('{unit}', ts AT TIME ZONE 'Asia/Seoul'))
    FROM ess.rack WHERE site_id = %s AND bank_id = 1 AND rack_id = 1
    AND ts >= %s::timestamptz AND ts < %s::timestamptz"""


def explorer_route(site: int, start: str, end: str) -> str:
    return (
        f"explorer?site={site}&component=rack&bank=1&rack=1&fields=rack_soc&start={start}&end={end}"
    )


def drawn_chart(page) -> tuple[str, int]:
    chart = page.locator("#chart[data-state=drawn]")
    chart.wait_for()
    return chart.get_attribute("data-resolution"), int(chart.get_attribute("data-points"))


@pytest.mark.parametrize("name", PAGES)
def test_every_page_loads_without_console_errors(browser, base_url, ui_site, name):
    route = f"{name}?site={ui_site}&bank=1"
    watched = open_ui(browser, base_url, route)
    if name == "explorer":
        drawn_chart(watched.page)
    if name == "safety":
        watched.page.locator(".safety[data-state=drawn]").wait_for()
        assert int(watched.page.locator("canvas.heatmap").first.get_attribute("data-cells")) > 0
    if name == "sites":
        card = watched.page.locator(f".card[data-site='{ui_site}']")
        assert "SoS" in card.inner_text()
    watched.screenshot(f"ui-{name}")
    watched.assert_clean()


def test_explorer_draws_the_window_and_switches_resolution(browser, base_url, ui_site, pool):
    start, end = "2023-04-10T10:00", "2023-04-10T10:20"
    page = open_ui(browser, base_url, explorer_route(ui_site, start, end)).page
    expected = rows_in(pool, RAW_ROWS, ui_site, f"{start}+09", f"{end}+09")
    assert drawn_chart(page) == ("raw", expected) and expected > 0

    page.locator("#chart").evaluate("chart => chart.dataset.state = 'stale'")
    page.get_by_role("button", name="1일").click()  # the last stored day: 1-minute aggregates
    minutes = rows_in(
        pool, BUCKETS.format(unit="minute"), ui_site, "2023-04-11T00:00+09", "2023-04-12T00:00+09"
    )
    assert drawn_chart(page) == ("1 minute", minutes) and minutes > 1000

    page.locator("#chart").evaluate("chart => chart.dataset.state = 'stale'")
    page.get_by_role("button", name="7일").click()  # 7 days: too many minutes, hourly buckets
    hours = rows_in(
        pool, BUCKETS.format(unit="hour"), ui_site, "2023-04-05T00:00+09", "2023-04-12T00:00+09"
    )
    assert drawn_chart(page) == ("1 hour", hours) and hours == 48


def test_explorer_drag_zooms_into_finer_data(browser, base_url, ui_site):
    route = explorer_route(ui_site, "2023-04-10T00:00", "2023-04-11T00:00")
    page = open_ui(browser, base_url, route).page
    assert drawn_chart(page)[0] == "1 minute"
    page.locator("#chart").evaluate("chart => chart.dataset.state = 'stale'")
    plot = page.locator("#chart .u-over").bounding_box()
    y = plot["y"] + plot["height"] / 2
    x = plot["x"] + plot["width"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + plot["width"] / 100, y, steps=5)  # ~15 minutes of the day
    page.mouse.up()
    resolution, points = drawn_chart(page)
    assert resolution == "raw" and 0 < points <= 20


def test_bad_window_shows_the_problem_detail(browser, base_url, ui_site):
    page = open_ui(
        browser, base_url, explorer_route(ui_site, "2023-04-10T12:00", "2023-04-10T11:00")
    ).page
    problem = page.locator("#problem")
    problem.wait_for()
    assert "end-time" in problem.inner_text() and "must be after start-time" in problem.inner_text()


def test_language_toggle_changes_the_labels(browser, base_url):
    page = open_ui(browser, base_url, "sites").page
    nav = page.locator("nav a").first
    assert nav.inner_text() == "사이트"
    page.locator("#lang").click()
    assert nav.inner_text() == "Sites"
    assert page.locator("main h1").inner_text() == "Sites"
    page.locator("#lang").click()
    assert nav.inner_text() == "사이트"


def downloaded_csv(page) -> tuple[str, list[str], list[list[str]]]:
    with page.expect_download() as info:
        page.locator("#download-start").click()
    download = info.value
    rows = list(csv.reader(io.StringIO(download.path().read_text())))
    return download.url, rows[0], rows[1:]


def choose_rack_download(page, kind: str) -> None:
    page.get_by_label("데이터 종류", exact=True).select_option(kind)
    page.locator("main[data-state=ready]").wait_for()
    page.get_by_label("뱅크", exact=True).select_option("1")
    page.get_by_label("랙", exact=True).select_option("1")
    page.get_by_label("시작 (현지 시각)", exact=True).fill("2023-04-10T10:00")
    page.get_by_label("끝 (현지 시각)", exact=True).fill("2023-04-10T11:00")


def rack_rows_of_the_download(pool, site: int) -> int:
    return rows_in(pool, RAW_ROWS, site, "2023-04-10T10:00+09", "2023-04-10T11:00+09")


def test_deidentified_download_has_the_token_column_names(browser, base_url, ui_site, pool):
    page = open_ui(browser, base_url, f"download?site={ui_site}", token=None).page
    choose_rack_download(page, "deid")
    page.get_by_role("button", name="예상 크기 확인").click()
    page.locator("#estimate[data-rows]").wait_for()
    assert int(page.locator("#estimate").get_attribute("data-rows")) > 0
    url, header, rows = downloaded_csv(page)
    with urllib.request.urlopen(f"{base_url}/api/ess/di/operating-sites/{ui_site}/") as response:
        dictionary = json.load(response)
    rack = next(c for c in dictionary["components"] if c["component"] == "rack")
    assert header == ["timestamp", *[c["name"] for c in rack["columns"]]]
    tokens = [c["name"] for c in rack["columns"] if c["sensitive"]]
    with urllib.request.urlopen(f"{base_url}/api/ess/operating-sites/{ui_site}/") as response:
        site = json.load(response)
    raw_names = {c["name"] for k in site["components"] for c in k["columns"]}
    assert tokens and not raw_names & set(tokens) and "/di/" in url
    assert len(rows) == rack_rows_of_the_download(pool, ui_site) > 50


def test_raw_download_needs_a_token_then_uses_a_signed_link(browser, base_url, ui_site, pool):
    watched = open_ui(browser, base_url, f"download?site={ui_site}", token=None)
    page = watched.page
    choose_rack_download(page, "raw")
    page.locator("#download-start").click()
    status = page.locator("#download-status")
    assert "토큰" in status.inner_text()

    page.locator("#token").fill(TOKEN)
    page.locator("#token-form button[type=submit]").click()
    page.locator("main[data-state=ready]").wait_for()
    choose_rack_download(page, "raw")
    url, header, rows = downloaded_csv(page)
    assert header[:3] == ["timestamp", "bank_id", "rack_id"] and "rack_soc" in header
    assert len(rows) == rack_rows_of_the_download(pool, ui_site) > 50
    assert "signed=" in url and TOKEN not in url
    watched.assert_clean()


def test_root_sends_a_browser_to_the_ui_and_keeps_json_for_clients(browser, base_url):
    watched = open_ui(browser, base_url, "sites")
    watched.page.goto(f"{base_url}/")
    assert watched.page.url.startswith(f"{base_url}/ui/")
    with urllib.request.urlopen(f"{base_url}/") as response:
        assert json.load(response)["ui"] == "/ui/"
