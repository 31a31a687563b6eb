"""CSV downloads: the same rows as the JSON pages, in slices, and a client that goes away."""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import time
from dataclasses import replace
from datetime import timedelta

import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq
import pytest

from api.app import create_app
from api.operating_data import download
from api.operating_data.settings import OperatingDataSettings
from tests.helpers import settings_for_tests
from tests.live_server import assert_pool_idle, chunked_body, raw_get, serve
from tests.operating_data_site import MISSING, RACK_ROWS, SECONDS, START, create_site

DAY = {"start-time": "2022-05-10T00:00:00", "end-time": "2022-05-11T00:00:00"}


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        return create_site(conn)


@pytest.fixture
def api(site, client):
    return client


def with_settings(api, **changes) -> None:
    api.app.state.operating_data = replace(OperatingDataSettings.from_env(), **changes)


def path(site: int, data_type: str) -> str:
    return f"/api/ess/download/operating-sites/{site}/{data_type}/"


def download_rows(api, url: str, **params) -> list[dict[str, str]]:
    response = api.get(url, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def json_rows(api, url: str, **params) -> list[dict]:
    page = api.get(url, params={**params, "page_size": 10000}).json()
    assert page["next"] is None
    return page["results"]


def test_csv_download_equals_the_json_rows(api, site):
    rows = download_rows(api, path(site, "rack"), bank=1, **DAY)
    expected = json_rows(api, f"/api/ess/operating-sites/{site}/banks/1/racks/", **DAY)
    assert len(rows) == len(expected) == SECONDS * 3 - 1
    for got, want in zip(rows, expected, strict=True):
        assert list(got) == list(want)
        for name, value in want.items():
            if value is None:
                assert got[name] == ""
            elif isinstance(value, dict):
                assert json.loads(got[name]) == value  # JSON columns stay valid JSON
            elif isinstance(value, str):
                assert got[name] == value  # timestamps: the same ISO 8601 text
            else:
                assert float(got[name]) == value


def test_all_racks_of_all_banks_in_time_then_bank_then_rack_order(api, site):
    rows = download_rows(api, path(site, "rack"), **DAY)
    assert len(rows) == RACK_ROWS
    keys = [(r["timestamp"], int(r["bank_id"]), int(r["rack_id"])) for r in rows]
    assert keys == sorted(keys)
    assert rows[0]["timestamp"] == "2022-05-10T10:00:00+09:00"


def test_slices_change_nothing_but_the_number_of_copies(api, site, monkeypatch):
    whole = api.get(path(site, "rack"), params=DAY).content
    slices = []
    read_slice = download.read_slice
    monkeypatch.setattr(
        download, "read_slice", lambda *args: slices.append(args[2]) or read_slice(*args)
    )
    with_settings(api, download_slice_rows=7)  # 5 racks: 1.4 s per slice
    assert api.get(path(site, "rack"), params=DAY).content == whole  # one header, no row lost
    # slices cover the stored part of the day, back to back, not the whole day
    assert len(slices) == 43
    assert slices[0].start == START
    assert slices[-1].end == START + timedelta(seconds=SECONDS - 1, microseconds=1)
    assert all(a.end == b.start for a, b in itertools.pairwise(slices))


@pytest.mark.parametrize(
    ("data_type", "params", "count"),
    [
        ("bank", {"bank": 2}, SECONDS),
        ("rack", {"bank": 1, "rack": 2}, SECONDS - 1),
        ("pcs", {}, SECONDS + 1),
        ("etc", {"fields": "sensor1_humidity"}, SECONDS),
    ],
)
def test_every_data_type_and_filter(api, site, data_type, params, count):
    rows = download_rows(api, path(site, data_type), **DAY, **params)
    assert len(rows) == count
    if "rack" in params:
        assert {r["rack_id"] for r in rows} == {"2"}
        seconds = {r["timestamp"] for r in rows}
        assert (START + timedelta(seconds=MISSING)).isoformat() not in seconds
    if "fields" in params:
        assert list(rows[0]) == ["timestamp", "sensor1_humidity"]


def test_file_name_and_headers(api, site):
    response = api.get(path(site, "rack"), params={"date": "2022-05-10", "bank": 1, "rack": 3})
    disposition = response.headers["content-disposition"]
    assert disposition == (
        f'attachment; filename="od{site}_rack_bank1_rack3_'
        '20220510T000000+0900_20220511T000000+0900.csv"'
    )


def test_empty_window_is_a_header_only_file(api, site):
    response = api.get(path(site, "pcs"), params={"date": "2021-01-01", "tz": "UTC"})
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert len(lines) == 1 and lines[0].startswith("timestamp,ai_vdc,ai_idc")
    assert "20201231T150000+0000" in response.headers["content-disposition"]


def test_tz_applies_to_the_file(api, site):
    rows = download_rows(api, path(site, "etc"), tz="UTC", **DAY)
    assert rows[0]["timestamp"] == "2022-05-10T01:00:00+00:00"


def test_gzip_download_decodes_to_the_same_file(api, site):
    plain = api.get(path(site, "rack"), params=DAY, headers={"Accept-Encoding": "identity"})
    with_settings(api, download_slice_rows=100)  # several slices, one gzip member
    compressed = api.get(path(site, "rack"), params=DAY, headers={"Accept-Encoding": "gzip"})
    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == plain.content  # httpx decodes the gzip member
    assert len(gzip.compress(plain.content, 1)) < len(plain.content)


@pytest.mark.parametrize(
    ("data_type", "params", "status", "parameter"),
    [
        ("rack", {}, 400, "start-time"),
        ("rack", {"start-time": "2022-05-10T00:00:00"}, 400, "end-time"),
        (
            "rack",
            {"start-time": "2022-05-10T00:00:00", "end-time": "2022-07-10T00:00:00"},
            400,
            "end-time",
        ),
        ("rack", {"date": "2022-05-10", "rack": "1"}, 400, "bank"),
        ("rack", {"date": "2022-05-10", "bank": "3"}, 404, "bank"),
        ("rack", {"date": "2022-05-10", "bank": "2", "rack": "3"}, 404, "rack"),
        ("bank", {"date": "2022-05-10", "rack": "1"}, 400, "rack"),
        ("pcs", {"date": "2022-05-10", "bank": "1"}, 400, "bank"),
        ("pcs", {"date": "2022-05-10", "page": "1"}, 400, "page"),
        ("rack", {"date": "2022-05-10", "fields": "ai_vdc"}, 400, "fields"),
        ("racks", {"date": "2022-05-10"}, 404, "data_type"),
    ],
)
def test_bad_download_requests_are_problems(api, site, data_type, params, status, parameter):
    response = api.get(path(site, data_type), params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["parameter"] == parameter


def test_the_longest_window_is_configurable(api, site):
    with_settings(api, download_max_span=timedelta(hours=1))
    window = {"start-time": "2022-05-10T10:00:00", "end-time": "2022-05-10T11:00:01"}
    assert api.get(path(site, "etc"), params=window).status_code == 400
    window["end-time"] = "2022-05-10T11:00:00"
    assert api.get(path(site, "etc"), params=window).status_code == 200


# -- a client that disconnects mid-download, against a real server


@pytest.fixture
def server(pool, site):
    app = create_app(pool=pool, settings=settings_for_tests())
    app.state.operating_data = replace(OperatingDataSettings.from_env(), download_slice_rows=5)
    with serve(app) as base_url:
        yield base_url


@pytest.mark.parametrize("format", ["csv", "parquet", "arrow", "no_page"])
def test_an_aborted_download_stops_and_leaves_the_pool_healthy(
    server, site, pool, monkeypatch, format
):
    """Also a no_page list, which streams the same way (format no_page: the JSON list)."""
    reads = []
    read_slice = download.read_slice

    def slow_slice(*args):
        reads.append(args[2])
        time.sleep(0.05)  # so that the client is gone long before the last slice
        return read_slice(*args)

    monkeypatch.setattr(download, "read_slice", slow_slice)
    # 60 rows: 12 slices of 5 seconds
    target = f"{path(site, 'etc')}?date=2022-05-10&format={format}"
    if format == "no_page":
        target = f"/api/ess/operating-sites/{site}/etc/?date=2022-05-10&no_page"
    sock = raw_get(server, target)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    sock.close()  # mid-stream
    time.sleep(1.0)  # the whole download would take 12 x 50 ms and more
    assert 1 <= len(reads) < 12
    assert_pool_idle(pool)
    # the next request is served, through the same pool
    body = chunked_body(raw_get(server, target))
    if format == "csv":
        assert body.count(b"+09:00") == SECONDS
    elif format == "no_page":
        assert len(json.loads(body)) == SECONDS
    else:
        reader = (
            pq.read_table if format == "parquet" else lambda f: pa_ipc.open_stream(f).read_all()
        )
        assert reader(io.BytesIO(body)).num_rows == SECONDS
