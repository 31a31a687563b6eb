"""The operating-data query endpoints (JSON and CSV pages, latest rows) on a scratch site."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from api.catalog.model import load_catalog
from api.operating_data.dataset import operating_dataset
from api.operating_data.execute import read_page
from api.operating_data.parse import parse_page_args
from api.operating_data.plan import fix_series, plan_page, select
from api.operating_data.settings import PAGE_SIZE_MAX, OperatingDataSettings
from tests.helpers import create_scratch_site
from tests.operating_data_site import (
    FRACTIONAL_PCS,
    MISSING,
    NULL_SECOND,
    RACK_ROWS,
    SECONDS,
    START,
    create_site,
)


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        return create_site(conn)


@pytest.fixture
def api(site, client):
    """The client, started after the scratch site exists (the catalog is read at startup)."""
    return client


def url(site: int, path: str) -> str:
    return f"/api/ess/operating-sites/{site}/{path}"


def get_json(api, path: str, **params):
    response = api.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def all_pages(api, path: str, **params) -> list[dict]:
    """Every row, following the next links from the first page."""
    page = get_json(api, path, **params)
    rows = list(page["results"])
    while page["next"]:
        response = api.get(page["next"])
        assert response.status_code == 200, response.text
        page = response.json()
        rows += page["results"]
    return rows


def problem(response, status: int, parameter: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["parameter"] == parameter, body
    return body


def at(second: float) -> str:
    return (START + timedelta(seconds=second)).isoformat()


# -- shape and order


def test_racks_page_is_ordered_by_time_then_rack_with_keys_first(api, site):
    page = get_json(api, url(site, "banks/1/racks/"), page_size=7)
    assert set(page) == {"next", "previous", "results"}  # no count unless asked for
    assert page["previous"] is None and page["next"]
    rows = page["results"]
    assert [(r["timestamp"], r["rack_id"]) for r in rows] == [
        (at(s), r) for s in (0, 1, 2) for r in (1, 2, 3)
    ][:7]
    assert list(rows[0])[:3] == ["timestamp", "bank_id", "rack_id"]
    assert rows[0]["timestamp"] == "2022-05-10T10:00:00+09:00"
    assert rows[0]["rack_soc"] == pytest.approx(0.1)
    assert rows[0]["rack_module_fault"] == {"module1": 0, "module2": 0}
    assert rows[0]["rack_status_for_run"] == 0 and rows[0]["rack_current"] == -1.5
    assert rows[0]["rack_soh"] is None  # a column the rows do not fill


def test_only_the_sites_own_columns_in_the_vendor_order(api, site):
    catalog = api.app.state.catalog
    row = get_json(api, url(site, "pcs/"), page_size=1)["results"][0]
    assert list(row) == ["timestamp", *catalog.sites[2].column_names("pcs")]
    assert "bank_id" not in row  # Panli's PCS reports no bank
    assert row["ai_vdc"] == 800 and row["st_run"] == 1


@pytest.mark.parametrize(
    ("path", "rows"),
    [
        ("banks/1/", SECONDS),
        ("banks/2/racks/", SECONDS * 2),
        ("banks/1/racks/2/", SECONDS - 1),
        ("pcs/", SECONDS + 1),
        ("etc/", SECONDS),
    ],
)
def test_every_query_endpoint_pages_through_all_its_rows(api, site, path, rows):
    got = all_pages(api, url(site, path), page_size=17)
    assert len(got) == rows
    keys = [(r["timestamp"], r.get("rack_id")) for r in got]
    assert keys == sorted(keys) and len(set(keys)) == rows


def test_trailing_slash_is_optional(api, site):
    with_slash = get_json(api, url(site, "banks/1/racks/3/"), page_size=5)
    without = get_json(api, url(site, "banks/1/racks/3"), page_size=5)
    assert with_slash["results"] == without["results"]


def test_nulls_missing_seconds_and_fractional_times(api, site):
    rows = get_json(api, url(site, "banks/1/racks/2/"), page_size=100)["results"]
    seconds = [datetime.fromisoformat(r["timestamp"]) - START for r in rows]
    assert timedelta(seconds=MISSING) not in seconds
    assert rows[NULL_SECOND]["rack_voltage"] is None and rows[8]["rack_voltage"] == 908
    last = get_json(api, url(site, "pcs/latest/"))["results"][0]
    assert last["timestamp"] == "2022-05-10T10:01:00.250000+09:00"
    assert datetime.fromisoformat(last["timestamp"]) == FRACTIONAL_PCS


# -- field selection


def test_fields_keep_their_order_after_time_and_keys(api, site):
    rows = get_json(
        api, url(site, "banks/1/racks/"), fields="rack_voltage,timestamp,rack_soc", page_size=2
    )["results"]
    assert list(rows[0]) == ["timestamp", "bank_id", "rack_id", "rack_voltage", "rack_soc"]


def test_omit_drops_columns(api, site):
    catalog = api.app.state.catalog
    row = get_json(api, url(site, "banks/1/"), omit="master_rack_communication_fault,bank_soh")[
        "results"
    ][0]
    expected = [c for c in catalog.sites[2].column_names("bank")]
    expected = [c for c in expected if c not in ("master_rack_communication_fault", "bank_soh")]
    assert list(row) == ["timestamp", *expected]


def test_unknown_field_lists_the_valid_names(api, site):
    body = problem(
        api.get(url(site, "banks/1/racks/"), params={"fields": "rack_soc,soc"}), 400, "fields"
    )
    assert "soc" in body["detail"] and "rack_max_cell_voltage" in body["detail"]
    # a PCS column of another vendor is not a column of this site
    problem(api.get(url(site, "pcs/"), params={"fields": "dc_voltage_1"}), 400, "fields")


def test_omitting_a_key_or_mixing_fields_and_omit_is_refused(api, site):
    problem(api.get(url(site, "banks/1/racks/"), params={"omit": "rack_id"}), 400, "omit")
    problem(
        api.get(url(site, "banks/1/racks/"), params={"omit": "rack_soc", "fields": "rack_soc"}),
        400,
        "omit",
    )


# -- windows and time zones


def test_naive_offset_and_utc_times_select_the_same_rows(api, site):
    path = url(site, "banks/1/racks/1/")
    naive = get_json(
        api, path, **{"start-time": "2022-05-10T10:00:10", "end-time": "2022-05-10T10:00:20"}
    )
    offset = get_json(
        api,
        path,
        **{"start-time": "2022-05-10T10:00:10+09:00", "end-time": "2022-05-10T10:00:20+09:00"},
    )
    utc = get_json(
        api, path, **{"start-time": "2022-05-10T01:00:10Z", "end-time": "2022-05-10T01:00:20Z"}
    )
    assert naive["results"] == offset["results"] == utc["results"]
    stamps = [r["timestamp"] for r in naive["results"]]
    assert stamps[0] == at(10) and stamps[-1] == at(19) and len(stamps) == 10  # half-open


def test_date_is_the_sites_local_day(api, site):
    day = get_json(api, url(site, "etc/"), date="2022-05-10", page_size=1000)
    assert len(day["results"]) == SECONDS
    assert get_json(api, url(site, "etc/"), date="2022-05-09")["results"] == []


def test_open_windows(api, site):
    since = get_json(api, url(site, "etc/"), **{"start-time": at(50)}, page_size=1000)["results"]
    until = get_json(api, url(site, "etc/"), **{"end-time": at(5)}, page_size=1000)["results"]
    assert len(since) == SECONDS - 50 and len(until) == 5


def test_tz_changes_the_offset_not_the_instant(api, site):
    seoul = get_json(api, url(site, "banks/1/"), page_size=3)["results"]
    utc = get_json(api, url(site, "banks/1/"), page_size=3, tz="UTC")["results"]
    assert utc[0]["timestamp"] == "2022-05-10T01:00:00+00:00"
    assert [datetime.fromisoformat(r["timestamp"]) for r in seoul] == [
        datetime.fromisoformat(r["timestamp"]) for r in utc
    ]
    for zone, shown in [
        ("America/New_York", "2022-05-09T21:00:00-04:00"),
        ("America/St_Johns", "2022-05-09T22:30:00-02:30"),
        ("Asia/Kathmandu", "2022-05-10T06:45:00+05:45"),
    ]:
        first = get_json(api, url(site, "banks/1/"), page_size=1, tz=zone)["results"][0]
        assert first["timestamp"] == shown


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"start-time": "yesterday"}, "start-time"),
        ({"end-time": "2022-13-01T00:00:00"}, "end-time"),
        ({"start-time": "2022-05-10T11:00:00", "end-time": "2022-05-10T10:00:00"}, "end-time"),
        ({"start-time": "2022-05-10T10:00:00", "end-time": "2022-05-10T10:00:00"}, "end-time"),
        ({"date": "2022-05-32"}, "date"),
        ({"date": "2022-05-10", "start-time": "2022-05-10T10:00:00"}, "date"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"page_size": str(PAGE_SIZE_MAX + 1)}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"page": "first"}, "page"),
        ({"page": "-1"}, "page"),
        ({"count": "all"}, "count"),
        ({"count": "exact"}, "count"),  # an unbounded window
        ({"feilds": "rack_soc"}, "feilds"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "", "page": "2"}, "cursor"),
    ],
)
def test_bad_input_is_a_problem_naming_the_parameter(api, site, params, parameter):
    problem(api.get(url(site, "banks/1/racks/"), params=params), 400, parameter)


def test_repeated_parameter_is_refused(api, site):
    problem(api.get(url(site, "etc/") + "?page_size=2&page_size=3"), 400, "page_size")


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("banks/3/", "bank"),
        ("banks/3/racks/", "bank"),
        ("banks/2/racks/3/", "rack"),
        ("banks/1/racks/9/latest/", "rack"),
    ],
)
def test_unknown_bank_or_rack_is_a_404_naming_it(api, site, path, parameter):
    problem(api.get(url(site, path)), 404, parameter)


def test_unknown_site_is_a_404_naming_it(api):
    body = problem(api.get("/api/ess/operating-sites/32000/pcs/"), 404, "site")
    assert "32000" in body["detail"]


# -- paging


def test_next_and_previous_links_walk_both_ways(api, site):
    path = url(site, "banks/1/racks/")
    first = get_json(api, path, page_size=10)
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    back = api.get(third["previous"]).json()
    assert back["results"] == second["results"]
    assert api.get(back["previous"]).json()["results"] == first["results"]
    assert api.get(second["previous"]).json()["previous"] is None  # back at the start
    assert second["results"][0]["timestamp"] > first["results"][-1]["timestamp"] or (
        second["results"][0]["rack_id"] > first["results"][-1]["rack_id"]
    )


def test_numbered_pages_match_the_cursor_pages_and_link_with_cursors(api, site):
    path = url(site, "banks/2/racks/")
    walked = all_pages(api, path, page_size=25)
    for number in (1, 2, 5):
        page = get_json(api, path, page_size=25, page=number)
        assert page["results"] == walked[(number - 1) * 25 : number * 25]
    page3 = get_json(api, path, page_size=25, page=3)
    query = parse_qs(urlsplit(page3["next"]).query)
    assert "page" not in query and "cursor" in query and query["page_size"] == ["25"]
    assert api.get(page3["next"]).json()["results"] == walked[75:100]
    assert api.get(page3["previous"]).json()["results"] == walked[25:50]


def test_page_past_the_end_is_a_404(api, site):
    problem(api.get(url(site, "etc/"), params={"page": "7", "page_size": "10"}), 404, "page")
    assert get_json(api, url(site, "etc/"), page=6, page_size=10)["next"] is None


def test_page_size_maximum_is_accepted(api, site):
    page = get_json(api, url(site, "banks/1/racks/"), page_size=PAGE_SIZE_MAX)
    assert len(page["results"]) == SECONDS * 3 - 1 and page["next"] is None


def test_a_changed_cursor_is_refused(api, site):
    page = get_json(api, url(site, "banks/1/racks/"), page_size=5)
    cursor = parse_qs(urlsplit(page["next"]).query)["cursor"][0]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    problem(api.get(url(site, "banks/1/racks/"), params={"cursor": flipped}), 400, "cursor")
    # a valid cursor of another query (another bank) does not open this one
    problem(api.get(url(site, "banks/2/racks/"), params={"cursor": cursor}), 400, "cursor")


def test_counts_are_opt_in(api, site):
    path = url(site, "banks/1/racks/")
    window = {"start-time": at(0), "end-time": at(SECONDS)}
    exact = get_json(api, path, count="exact", page_size=2, **window)
    assert exact["count"] == RACK_ROWS - SECONDS * 2  # bank 1's racks, one missing second
    # a short stored range is counted; a long one is estimated from its ends (below)
    assert get_json(api, path, count="estimated", page_size=2)["count"] == exact["count"]
    assert "count" not in get_json(api, path, page_size=2)


def test_estimated_count_follows_the_cadence_not_the_gaps(api, pool):
    """An hour of PCS rows every 10 s (demo data's cadence) with 5 minutes missing: the
    estimate takes the rate at both ends of the stored range, so it sees the 10 s cadence
    but not the gap in the middle."""
    with pool.connection() as conn:
        site = create_site(conn, first_id=780)
        conn.execute("DELETE FROM ess.pcs WHERE site_id = %s", (site,))
        conn.execute(
            "INSERT INTO ess.pcs (ts, site_id, ai_vdc) SELECT %s + s * interval '10 seconds', "
            "%s, 1 FROM generate_series(0, 359) AS s WHERE s NOT BETWEEN 150 AND 179",
            (START, site),
        )
        api.app.state.catalog = load_catalog(conn)
    path = url(site, "pcs/")
    assert get_json(api, path, count="exact", date="2022-05-10")["count"] == 330
    assert get_json(api, path, count="estimated")["count"] == 359


# -- latest rows


def test_latest_rack_rows_one_per_rack(api, site):
    rows = get_json(api, url(site, "banks/1/racks/latest/"), fields="rack_soc")["results"]
    assert [(r["rack_id"], r["timestamp"]) for r in rows] == [
        (r, at(SECONDS - 1)) for r in (1, 2, 3)
    ]
    assert list(rows[0]) == ["timestamp", "bank_id", "rack_id", "rack_soc"]


def test_latest_within_a_window(api, site):
    rows = get_json(api, url(site, "banks/1/racks/2/latest"), **{"end-time": at(MISSING + 1)})
    assert [r["timestamp"] for r in rows["results"]] == [at(MISSING - 1)]  # skips the gap
    bank = get_json(api, url(site, "banks/2/latest"), **{"end-time": at(10)})["results"]
    assert bank[0]["timestamp"] == at(9) and bank[0]["bank_power"] == 20
    empty = get_json(api, url(site, "etc/latest/"), date="2022-05-11")
    assert empty == {"next": None, "previous": None, "results": []}


def test_latest_refuses_paging_parameters(api, site):
    problem(api.get(url(site, "pcs/latest/"), params={"page": "2"}), 400, "page")


# -- CSV pages


def parse_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_accept_csv_returns_the_same_rows(api, site):
    path = url(site, "banks/1/racks/")
    params = {"page_size": "20", "start-time": at(5)}
    page = get_json(api, path, **params)
    response = api.get(path, params=params, headers={"Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = parse_csv(response.text)
    assert len(rows) == 20
    for csv_row, json_row in zip(rows, page["results"], strict=True):
        assert list(csv_row) == list(json_row)
        assert csv_row["timestamp"] == json_row["timestamp"]
        assert int(csv_row["rack_id"]) == json_row["rack_id"]
        assert float(csv_row["rack_soc"]) == json_row["rack_soc"]
        assert csv_row["rack_soh"] == "" and json_row["rack_soh"] is None
        assert json.loads(csv_row["rack_module_fault"]) == json_row["rack_module_fault"]
    next_link = response.headers["link"]
    assert next_link.startswith("<http") and 'rel="next"' in next_link
    assert page["next"].split("cursor=")[1] in next_link


NON_FINITE_SQL = """
INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_voltage, rack_current,
    rack_module_fault)
VALUES (%(start)s, %(site)s, 1, 1, 'NaN', 'Infinity', '-Infinity', '{"module1": 1}'),
    (%(start)s + interval '1 second', %(site)s, 1, 1, 1.5e-05, NULL, '-0', NULL),
    (%(start)s + interval '1.25 seconds', %(site)s, 1, 1, 3.4e38, 'NaN', 0.1, '{"a": "NaN"}')
"""


def test_json_rows_hold_the_csv_values_and_null_for_non_finite_floats(pool):
    """The database writes JSON rows and CSV lines separately: the same values either way,
    except NaN and the infinities, which JSON has no number for."""
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, 2, (1,), first_id=760, code="nonfinite")
        conn.execute(NON_FINITE_SQL, {"start": START, "site": site_id})
        catalog = load_catalog(conn)
    dataset = operating_dataset(catalog, catalog.require_site(site_id), "rack")
    args = parse_page_args(dataset, {"date": "2022-05-10"}.items(), timedelta(days=1))
    selection = select(dataset, args.selected, fix_series(dataset, 1, 1))
    settings = OperatingDataSettings(cursor_key=b"k" * 32)
    json_page, csv_page = (
        read_page(pool, plan_page(selection, args, settings, json=as_json))
        for as_json in (True, False)
    )
    json_rows = [json.loads(line) for line in json_page.lines]
    csv_rows = parse_csv(b"\n".join([csv_page.header, *csv_page.lines]).decode())
    assert [r["rack_current"] for r in csv_rows] == ["-Infinity", "-0", "0.1"]
    assert [r["rack_module_fault"] for r in json_rows] == [{"module1": 1}, None, {"a": "NaN"}]
    for json_row, csv_row in zip(json_rows, csv_rows, strict=True):
        assert list(json_row) == list(csv_row)
        for name, text in csv_row.items():
            if name == "timestamp":
                expected = text
            elif name == "rack_module_fault":
                expected = json.loads(text) if text else None
            else:
                expected = float(text) if text and math.isfinite(float(text)) else None
            assert json_row[name] == expected, name
    assert json_rows[2]["timestamp"] == "2022-05-10T10:00:01.250000+09:00"
    assert json_rows[0]["rack_soc"] is None and json_rows[1]["rack_soc"] == 1.5e-05


def test_csv_of_an_empty_window_is_the_header(api, site):
    response = api.get(
        url(site, "etc/"), params={"date": "2020-01-01"}, headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.text.splitlines() == [
        "timestamp,sensor1_temperature,sensor1_humidity,sensor2_temperature,sensor2_humidity,"
        "active_power_total,active_energy_total_high"
    ]


def test_gzip_when_accepted(api, site):
    path = url(site, "banks/1/racks/")
    plain = api.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = api.get(path, headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.json() == plain.json()  # httpx decodes it
    assert len(gzip.compress(plain.content)) < len(plain.content)


# -- no_page: the whole window as one bare JSON list, streamed in slices

DAY = {"date": "2022-05-10"}


def with_no_page(path: str, params: dict[str, str], switch: str = "no_page") -> str:
    """The URL with the switch written as given (a client may send a bare `no_page`, which
    httpx's params cannot express)."""
    return f"{path}?{urlencode(params)}&{switch}"


def no_page(api, path: str, switch: str = "no_page", **params) -> list[dict]:
    response = api.get(with_no_page(path, params, switch))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "content-disposition" not in response.headers  # shown inline, not a file
    return response.json()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("banks/1/racks/", DAY),
        ("banks/1/racks/2/", {**DAY, "fields": "rack_voltage,rack_module_fault", "tz": "UTC"}),
        ("banks/2/", {**DAY, "omit": "bank_power"}),
        ("pcs/", {**DAY, "tz": "America/New_York"}),
        ("etc/", {"start-time": at(10.5), "end-time": at(41)}),
    ],
)
def test_no_page_is_the_concatenated_pages(api, site, path, params):
    # slices of 7 rows at the nominal cadence: many COPYs, boundaries inside the pages
    api.app.state.operating_data = replace(api.app.state.operating_data, download_slice_rows=7)
    pages = all_pages(api, url(site, path), page_size=13, **params)
    assert len(pages) > 13
    for switch in ("no_page", "no_page=", "no_page=true", "no_page=0"):  # any value: no pages
        assert no_page(api, url(site, path), switch, **params) == pages


def test_no_page_of_an_empty_window_is_an_empty_list(api, site):
    assert no_page(api, url(site, "banks/1/racks/"), date="2020-01-01") == []
    assert no_page(api, url(site, "pcs/"), **{"start-time": at(100), "end-time": at(200)}) == []


def test_no_page_with_accept_csv_streams_the_csv(api, site):
    path = url(site, "banks/1/racks/")
    response = api.get(with_no_page(path, DAY), headers={"Accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    download = api.get(f"/api/ess/download/operating-sites/{site}/rack/", params={**DAY, "bank": 1})
    assert response.text == download.text
    assert len(parse_csv(response.text)) == SECONDS * 3 - 1


def test_no_page_is_gzipped_when_accepted(api, site):
    path = with_no_page(url(site, "banks/1/racks/"), DAY)
    plain = api.get(path, headers={"Accept-Encoding": "identity"})
    packed = api.get(path, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.json() == plain.json()  # httpx decodes it
    assert len(packed.json()) == SECONDS * 3 - 1


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page": "2"}, "page"),
        ({"page_size": "10"}, "page_size"),
        ({"cursor": "abc"}, "cursor"),
        ({"count": "exact"}, "count"),
        ({"page_size": "10", "cursor": "abc"}, "page_size"),
    ],
)
def test_no_page_with_paging_parameters_is_refused(api, site, params, parameter):
    response = api.get(with_no_page(url(site, "pcs/"), {**DAY, **params}))
    body = problem(response, 400, parameter)
    assert all(name in body["detail"] for name in params), body


def test_no_page_needs_a_download_window(api, site):
    path = url(site, "pcs/")
    problem(api.get(with_no_page(path, {})), 400, "start-time")
    problem(api.get(with_no_page(path, {"start-time": at(0)})), 400, "end-time")
    month = {"start-time": "2022-05-01T00:00:00", "end-time": "2022-06-02T00:00:00"}
    problem(api.get(with_no_page(path, month)), 400, "end-time")  # longer than a download
    problem(api.get(with_no_page(path, {**DAY, "no_page": "x"})), 400, "no_page")  # twice


# -- the site catalog's metadata


def test_site_catalog_has_units_and_the_stored_time_range(api, site):
    info = get_json(api, f"/api/ess/operating-sites/{site}/")
    components = {c["component"]: c for c in info["components"]}
    rack = components["rack"]
    assert rack["time_range"] == {"first": at(0), "last": at(SECONDS - 1)}
    assert components["pcs"]["time_range"]["last"] == "2022-05-10T10:01:00.250000+09:00"
    units = {c["name"]: c["unit"] for c in rack["columns"]}
    assert units["rack_soc"] == "%" and units["rack_voltage"] == "V"
    assert units["rack_current"] == "A" and units["rack_max_cell_temperature"] == "°C"
    assert units["rack_max_cell_voltage_position"] is None  # an index, not a quantity
    assert units["rack_status_for_run"] is None and units["rack_module_fault"] is None
    listed = {s["site_id"]: s for s in get_json(api, "/api/ess/operating-sites/")}
    assert listed[site]["components"] == info["components"]


def test_a_site_without_rows_has_no_time_range(api):
    info = get_json(api, "/api/ess/operating-sites/1/")
    assert all("time_range" in c for c in info["components"])


def test_openapi_documents_every_parameter_with_an_example(api):
    paths = api.get("/schema/openapi.json").json()["paths"]
    base = "/api/ess/operating-sites/{site}"
    ours = [
        f"{base}/banks/{{bank}}",
        f"{base}/banks/{{bank}}/racks",
        f"{base}/banks/{{bank}}/racks/{{rack}}",
        f"{base}/pcs",
        f"{base}/etc",
        f"{base}/banks/{{bank}}/latest",
        f"{base}/banks/{{bank}}/racks/latest",
        f"{base}/banks/{{bank}}/racks/{{rack}}/latest",
        f"{base}/pcs/latest",
        f"{base}/etc/latest",
        "/api/ess/download/operating-sites/{site}/{data_type}",
    ]
    for path in ours:
        operation = paths[path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"site", "fields", "omit", "tz", "start-time", "end-time", "date"} <= names, path
        for parameter in operation["parameters"]:
            assert parameter.get("description") and parameter.get("examples"), (path, parameter)
        assert "400" in operation["responses"] and "404" in operation["responses"]
    assert {"page", "page_size", "cursor", "count"} <= {
        p["name"] for p in paths[f"{base}/banks/{{bank}}/racks"]["get"]["parameters"]
    }


def test_csv_media_type_names_its_charset_once(api, site):
    response = api.get(url(site, "etc/"), headers={"Accept": "text/csv"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
