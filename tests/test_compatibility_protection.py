"""The protection map as the earlier service's clients read it (docs/compatibility.md): the
level counts are logged rows, one level per reading, newest bucket first; the list items carry
`timestamp`, `error_code` and `level` objects, `description` (Korean) and `description_eng`;
`time` (one second), `message`, `error_code` and `level` filter; `no_page` answers the bare
list of the window's items (bounded), `fields`/`omit` choose the item keys; unknown parameters
and bad combinations are a 400 naming them."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from api.analytics.protection import parse
from api.analytics.protection.respond import EPISODE_KEYS
from api.analytics.protection.sql import episodes_statement
from api.catalog.model import Site
from tests.helpers import SEOUL, assert_problem, create_scratch_site, store
from tests.safety_data import rack_rows

T0 = datetime(2022, 7, 1, 10, 0, tzinfo=SEOUL)
WINDOW = {"start-time": "2022-07-01T10:00:00", "end-time": "2022-07-01T10:05:00"}


def fault(second: int) -> bool:
    """Rack 1: 57 C with both of the BMS's over-temperature flags from 10:00:30 to 10:01:29."""
    return 30 <= second < 90


@pytest.fixture(scope="module")
def site(pool) -> int:
    """Bank 1 rack 1: a 60-second over-temperature fault with both BMS flags raised (a warning
    and a fault rule of both kinds hold in each of those seconds); rack 2: 51 C, a warning only,
    for 20 seconds from 10:03:00."""
    with pool.connection() as conn:
        site = create_scratch_site(conn, rack_counts=(2,))
        rows = rack_rows(
            site,
            1,
            1,
            T0,
            300,
            rack_max_cell_temperature=lambda s: 57.0 if fault(s) else 30.0,
            rack_over_temperature_warning=lambda s: int(fault(s)),
            rack_over_temperature_fault=lambda s: int(fault(s)),
        )
        rows += rack_rows(
            site,
            1,
            2,
            T0,
            300,
            rack_max_cell_temperature=lambda s: 51.0 if 180 <= s < 200 else 30.0,
        )
        store(conn, "rack", rows)
    return site


def url(site: int, path: str = "") -> str:
    return f"/api/ess-feature/protectionmap/operating-sites/{site}/{path}"


def local(second: int) -> str:
    return (T0 + timedelta(seconds=second)).isoformat()


def test_level_count_is_logged_rows_one_level_per_reading(site, client):
    answer = client.get(url(site, "stats/log-level-count/"), params=WINDOW)
    assert answer.status_code == 200, answer.text
    counts = answer.json()
    for item in counts:
        assert isinstance(item["time"], str) and item["operating_site"] == site
        assert isinstance(item["level"], int) and isinstance(item["level_count"], int)
    per_level = {}
    for item in counts:
        per_level[item["level"]] = per_level.get(item["level"], 0) + item["level_count"]
    # 60 fault readings at level 2 only; at level 1 only rack 2's 20 warning seconds
    assert per_level == {1: 20, 2: 60}


def test_a_fault_reading_is_not_also_a_warning(site, client):
    params = {"start-time": "2022-07-01T10:00:00", "end-time": "2022-07-01T10:02:00"}
    counts = client.get(url(site, "stats/log-level-count/"), params=params).json()
    assert sum(c["level_count"] for c in counts if c["level"] == 2) == 60
    assert sum(c["level_count"] for c in counts if c["level"] == 1) == 0
    # the episodes stay available under their own key: the warning rule and flag of rack 1
    assert sum(c["episode_count"] for c in counts if c["level"] == 1) == 2


def test_level_counts_newest_bucket_first_then_level(site, client):
    params = {**WINDOW, "time-bucket-width": "1 minute"}
    counts = client.get(url(site, "stats/log-level-count/"), params=params).json()
    keys = [(c["time"], c["level"]) for c in counts if c["level_count"]]
    assert keys == [(local(180), 1), (local(60), 2), (local(0), 2)]
    assert [c["level_count"] for c in counts if c["level_count"]] == [20, 30, 30]
    times = [c["time"] for c in counts]
    assert times == sorted(times, reverse=True)


def test_list_items_carry_the_earlier_keys(site, client):
    answer = client.get(url(site), params=WINDOW)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"count", "next", "previous", "results"}
    newest = body["results"][0]
    assert newest["timestamp"] == local(180) and newest["rack_id"] == 2
    for item in body["results"]:
        assert set(item["error_code"]) == {"id", "description", "description_eng"}
        assert set(item["level"]) == {"id", "description"}
        assert item["error_code"]["id"] == 6
        assert item["error_code"]["description_eng"] == "Over-temperature"
        assert item["error_code"]["description"] == "과온도"
        assert item["level"]["description"] in ("경고", "고장")
        assert (item["operating_site"], item["bank_id"]) == (site, 1)
        assert "과온도" in item["description"] and "Over-temperature" in item["description_eng"]
    stamps = [item["timestamp"] for item in body["results"]]
    assert stamps == sorted(stamps, reverse=True)


def test_time_is_one_second_polled_live(site, client):
    body = client.get(url(site), params={"time": "2022-07-01T10:01:00"}).json()
    # that second of rack 1: the warning and the fault, each by threshold and by BMS flag
    found = sorted(
        (r["level"]["id"], r["source"], r["timestamp"], r["readings"]) for r in body["results"]
    )
    assert found == [
        (1, "bms_flag", local(60), 1),
        (1, "threshold", local(60), 1),
        (2, "bms_flag", local(60), 1),
        (2, "threshold", local(60), 1),
    ]
    # a time within the second means that second
    assert client.get(url(site), params={"time": "2022-07-01T10:01:00.5"}).json() == body
    quiet = client.get(url(site), params={"time": "2022-07-01T10:02:00+09:00"}).json()
    assert quiet["count"] == 0


def test_message_error_code_and_level_filter(site, client):
    by_message = client.get(url(site), params={**WINDOW, "message": "과온도"}).json()
    assert by_message["count"] == 5
    flagged = client.get(url(site), params={**WINDOW, "message": "BMS 보고"}).json()
    assert {r["source"] for r in flagged["results"]} == {"bms_flag"} and flagged["count"] == 2
    assert client.get(url(site), params={**WINDOW, "message": "저전압"}).json()["count"] == 0
    old_name = client.get(url(site), params={**WINDOW, "error_code": "6"}).json()
    assert old_name == client.get(url(site), params={**WINDOW, "error-code": "6"}).json()
    assert client.get(url(site), params={**WINDOW, "error_code": "7"}).json()["count"] == 0
    faults = client.get(url(site), params={**WINDOW, "level": "2"}).json()
    assert {r["level"]["id"] for r in faults["results"]} == {2} and faults["count"] == 2


def all_pages(client, site: int, params: dict[str, str]) -> list[dict]:
    """The results of every page, following the `next` links."""
    answer = client.get(url(site), params=params)
    items = []
    while True:
        assert answer.status_code == 200, answer.text
        body = answer.json()
        items += body["results"]
        if body["next"] is None:
            return items
        answer = client.get(body["next"])


def test_no_page_is_the_concatenated_pages(site, client):
    paged = all_pages(client, site, {**WINDOW, "page_size": "2"})
    assert len(paged) == 5
    for value in ("", "1", "false"):
        bare = client.get(url(site), params={**WINDOW, "no_page": value})
        assert bare.status_code == 200, bare.text
        assert bare.json() == paged
    # present without a value at all
    query = "&".join(f"{k}={v}" for k, v in WINDOW.items())
    assert client.get(f"{url(site)}?{query}&no_page").json() == paged
    # filters and time= apply as to the pages
    faults = client.get(url(site), params={**WINDOW, "level": "2", "no_page": ""}).json()
    assert faults == [i for i in paged if i["level"]["id"] == 2] and len(faults) == 2
    second = client.get(url(site), params={"time": "2022-07-01T10:01:00", "no_page": ""})
    assert len(second.json()) == 4
    quiet = {"time": "2022-07-01T10:02:00", "no_page": ""}
    assert client.get(url(site), params=quiet).json() == []


def keys_of(items: list[dict]) -> list[list[str]]:
    return [list(item) for item in items]


def test_fields_and_omit_keep_and_drop_exactly_those_keys_on_both_forms(site, client):
    full = client.get(url(site), params=WINDOW).json()["results"]
    every_key = list(full[0])
    chosen = ["level", "timestamp", "rack_id"]
    for form in ({"page_size": "2"}, {"no_page": ""}):
        params = {**WINDOW, **form}
        kept = client.get(url(site), params={**params, "fields": ",".join(chosen)})
        assert kept.status_code == 200, kept.text
        items = kept.json() if "no_page" in form else kept.json()["results"]
        # in the order given, the same values as the full items
        assert keys_of(items) == [chosen] * len(items)
        assert items == [{k: i[k] for k in chosen} for i in full[: len(items)]]
        dropped = client.get(url(site), params={**params, "omit": "error_code, description"})
        assert dropped.status_code == 200, dropped.text
        items = dropped.json() if "no_page" in form else dropped.json()["results"]
        rest = [k for k in every_key if k not in ("error_code", "description")]
        assert keys_of(items) == [rest] * len(items)
        assert items == [{k: i[k] for k in rest} for i in full[: len(items)]]
    # the page's own keys stay, and its links keep the choice
    page = client.get(url(site), params={**WINDOW, "page_size": "2", "fields": "rack_id"}).json()
    assert set(page) == {"count", "next", "previous", "results"} and page["count"] == 5
    assert keys_of(client.get(page["next"]).json()["results"]) == [["rack_id"]] * 2


def test_no_page_refuses_a_window_beyond_its_bound(site, client, monkeypatch):
    """The documented bound (10,000 episodes, docs/compatibility.md) made small: the window
    holds 5 items."""
    assert parse.NO_PAGE_MAX == 10_000
    monkeypatch.setattr(parse, "NO_PAGE_MAX", 4)
    body = assert_problem(client.get(url(site), params={**WINDOW, "no_page": ""}), 400, "no_page")
    assert "5 items" in body["detail"] and "narrow the window" in body["detail"]
    # a narrower window, and the pages, still answer
    narrower = client.get(url(site), params={**WINDOW, "level": "1", "no_page": ""})
    assert narrower.status_code == 200 and len(narrower.json()) == 3
    assert client.get(url(site), params={**WINDOW, "page_size": "1000"}).json()["count"] == 5
    monkeypatch.setattr(parse, "NO_PAGE_MAX", 5)
    assert len(client.get(url(site), params={**WINDOW, "no_page": ""}).json()) == 5


def test_no_page_fetches_at_most_its_bound_in_one_statement():
    """The SQL step of no_page is page 1 of NO_PAGE_MAX rows: memory is bounded before the
    window's count is known."""
    site = Site(1, "s1", "s", None, "Asia/Seoul", {}, None, None, {1: 1})
    query = parse.parse_episodes(site, {**WINDOW, "no_page": ""}, EPISODE_KEYS)
    _, params = episodes_statement(query)
    assert (params["page_size"], params["page_offset"]) == (parse.NO_PAGE_MAX, 0)
    omitted = parse.parse_episodes(site, {**WINDOW, "omit": "unit,timestamp"}, EPISODE_KEYS)
    assert omitted.keys == tuple(k for k in EPISODE_KEYS if k not in ("unit", "timestamp"))


@pytest.mark.parametrize(
    ("params", "parameter", "named"),
    [
        ({"no_page": "", "page": "2"}, "page", "page"),
        ({"no_page": "", "page_size": "10"}, "page_size", "page_size"),
        ({"no_page": "", "page": "1", "page_size": "10"}, "page", "page and page_size"),
        ({"fields": "rack_id", "omit": "level"}, "omit", "fields"),
        ({"fields": "rack_id,colour"}, "fields", "colour"),
        ({"omit": "levle"}, "omit", "levle"),
        ({"no_page": "", "fields": "total"}, "fields", "total"),
        ({"fields": ""}, "fields", "fields"),
    ],
)
def test_bad_paging_and_key_choices_are_named(site, client, params, parameter, named):
    body = assert_problem(client.get(url(site), params={**WINDOW, **params}), 400, parameter)
    assert named in body["detail"]


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("", {**WINDOW, "page_size": "1001"}, "page_size"),
        ("stats/log-level-count/", {**WINDOW, "no_page": ""}, "no_page"),
        ("stats/log-level-count/", {**WINDOW, "level": "1"}, "level"),
        ("", {**WINDOW, "error_code": "6", "error-code": "6"}, "error_code"),
        ("", {"time": "2022-07-01T10:01:00", "start-time": "2022-07-01T10:00:00"}, "time"),
        ("", {"time": "now"}, "time"),
        ("", {**WINDOW, "message": ""}, "message"),
    ],
)
def test_unknown_and_bad_parameters_are_named(site, client, path, params, parameter):
    assert_problem(client.get(url(site, path), params=params), 400, parameter)
