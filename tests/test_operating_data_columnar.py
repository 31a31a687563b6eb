"""Parquet and Arrow downloads: the CSV download's values, typed, in the requested zone; one row
group (record batch) per slice; metadata without a raw name or the key; and `ess export`, which
writes the API's very bytes."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import datetime

import pyarrow as pa
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq
import pytest

from api.cli import main as ess
from api.deid.names import key_id
from api.operating_data.columnar import METADATA_KEY, arrow_type, csv_batch
from api.operating_data.dataset import OutputColumn
from api.operating_data.settings import OperatingDataSettings
from tests.helpers import TEST_DEID_KEY, assert_problem
from tests.operating_data_site import SECONDS, create_site
from tests.test_deid_api import sensitive  # noqa: F401 (a fixture)
from tests.test_deid_api import site as deid_site  # noqa: F401 (a fixture)

DAY = {"start-time": "2022-05-10T00:00:00", "end-time": "2022-05-11T00:00:00"}
MEDIA_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        return create_site(conn)


def path(site: int, data_type: str, deid: bool = False) -> str:
    return f"/api/ess/download/{'di/' if deid else ''}operating-sites/{site}/{data_type}/"


def read_table(content: bytes, format: str) -> pa.Table:
    if format == "parquet":
        return pq.read_table(io.BytesIO(content))
    return pa_ipc.open_stream(content).read_all()


def download(client, url: str, format: str, **params) -> bytes:
    response = client.get(url, params={**params, "format": format})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == MEDIA_TYPES[format]
    return response.content


def csv_rows(client, url: str, **params) -> list[dict[str, str]]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    return list(csv.DictReader(io.StringIO(response.text)))


def assert_equal_to_csv(table: pa.Table, rows: list[dict[str, str]]) -> None:
    """Value for value: times as the same ISO 8601 text in the same zone, numbers equal,
    NULL for an empty field, JSON as the CSV's text."""
    assert table.column_names == list(rows[0])
    assert table.num_rows == len(rows)
    for got, want in zip(table.to_pylist(), rows, strict=True):
        for name, text in want.items():
            value = got[name]
            if name == "timestamp":
                assert value.isoformat() == text
            elif text == "":
                assert value is None, name
            elif isinstance(value, str):
                assert value == text
            else:
                assert value == type(value)(text), name


@pytest.mark.parametrize("format", ["parquet", "arrow"])
@pytest.mark.parametrize("tz", [None, "America/New_York", "UTC"])
def test_a_columnar_download_holds_the_csv_values_typed(client, site, format, tz):
    zone = {"tz": tz} if tz else {}
    url = path(site, "rack")
    table = read_table(download(client, url, format, **DAY, **zone), format)
    assert_equal_to_csv(table, csv_rows(client, url, **DAY, **zone))
    schema = table.schema
    assert schema.field("timestamp").type == pa.timestamp("us", tz=tz or "Asia/Seoul")
    assert schema.field("bank_id").type == pa.int16()  # smallint
    assert schema.field("rack_status_for_run").type == pa.int16()
    assert schema.field("rack_soc").type == pa.float64()
    assert schema.field("rack_module_fault").type == pa.string()  # JSON text
    assert json.loads(table.column("rack_module_fault")[0].as_py()) == {"module1": 0, "module2": 0}
    assert table.column("rack_voltage").null_count == 5  # one NULL second, five racks


@pytest.mark.parametrize("format", ["parquet", "arrow"])
def test_fractional_times_and_the_other_components(client, site, format):
    for data_type, params in (("pcs", {}), ("bank", {"bank": 2}), ("etc", {"tz": "UTC"})):
        url = path(site, data_type)
        table = read_table(download(client, url, format, **DAY, **params), format)
        assert_equal_to_csv(table, csv_rows(client, url, **DAY, **params))
    pcs = read_table(download(client, path(site, "pcs"), format, **DAY), format)
    assert pcs.column("timestamp")[-1].as_py().microsecond == 250000


def with_slice_rows(client, rows: int) -> None:
    client.app.state.operating_data = replace(
        OperatingDataSettings.from_env(), download_slice_rows=rows
    )


def test_one_parquet_row_group_and_one_arrow_batch_per_slice(client, site):
    with_slice_rows(client, 50)  # 5 racks: 10 seconds a slice, 6 slices; rack 2 misses second 30
    url = path(site, "rack")
    parquet = pq.ParquetFile(io.BytesIO(download(client, url, "parquet", **DAY)))
    assert parquet.metadata.num_row_groups == 6
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    assert [parquet.metadata.row_group(i).num_rows for i in range(6)] == [50, 50, 50, 49, 50, 50]
    batches = list(pa_ipc.open_stream(download(client, url, "arrow", **DAY)))
    assert [b.num_rows for b in batches] == [50, 50, 50, 49, 50, 50]


def test_the_file_describes_itself(client, site):
    params = {"date": "2022-05-10", "bank": 1, "rack": 3, "tz": "UTC"}
    response = client.get(path(site, "rack"), params={**params, "format": "parquet"})
    assert response.headers["content-disposition"] == (
        f'attachment; filename="od{site}_rack_bank1_rack3_'
        '20220509T150000+0000_20220510T150000+0000.parquet"'
    )
    schema = pq.read_schema(io.BytesIO(response.content))
    assert json.loads(schema.metadata[METADATA_KEY]) == {
        "site": {"id": site, "code": f"od{site}"},
        "component": "rack",
        "series": {"bank_id": 1, "rack_id": 3},
        "window": {"start": "2022-05-09T15:00:00+00:00", "end": "2022-05-10T15:00:00+00:00"},
        "time_zone": "UTC",
        "units": json.loads(schema.metadata[METADATA_KEY])["units"],
    }
    units = json.loads(schema.metadata[METADATA_KEY])["units"]
    assert units["rack_voltage"] == "V" and units["rack_soc"] == "%"
    assert "rack_status_for_run" not in units  # flags have no unit
    assert schema.field("rack_current").metadata == {b"unit": b"A"}
    arrow = client.get(path(site, "rack"), params={**params, "format": "arrow"})
    assert arrow.headers["content-disposition"].endswith('.arrows"')
    assert pa_ipc.open_stream(arrow.content).schema.equals(schema, check_metadata=True)


@pytest.mark.parametrize("format", ["parquet", "arrow"])
def test_an_empty_window_is_a_valid_file_with_the_schema(client, site, format):
    content = download(client, path(site, "pcs"), format, date="2021-01-01")
    table = read_table(content, format)
    assert table.num_rows == 0
    assert table.column_names[:3] == ["timestamp", "ai_vdc", "ai_idc"]
    assert table.schema.field("ai_vdc").type == pa.float64()
    assert METADATA_KEY in table.schema.metadata


@pytest.mark.parametrize(
    ("accept", "format"),
    [
        ("application/vnd.apache.parquet", "parquet"),
        ("application/vnd.apache.arrow.stream", "arrow"),
        ("text/csv;q=0.5, application/vnd.apache.parquet", "parquet"),
        ("*/*", "csv"),
    ],
)
def test_the_accept_header_chooses_the_format(client, site, accept, format):
    response = client.get(path(site, "etc"), params=DAY, headers={"Accept": accept})
    assert response.status_code == 200
    extension = {"csv": "csv", "parquet": "parquet", "arrow": "arrows"}[format]
    assert response.headers["content-disposition"].endswith(f'.{extension}"')
    assert "Accept" in response.headers["vary"]


def test_format_wins_over_accept_and_gzip_stays_csv_only(client, site):
    response = client.get(
        path(site, "rack"),
        params={**DAY, "format": "parquet"},
        headers={"Accept": "text/csv", "Accept-Encoding": "gzip"},
    )
    assert response.headers["content-type"] == MEDIA_TYPES["parquet"]
    assert "content-encoding" not in response.headers
    assert pq.read_table(io.BytesIO(response.content)).num_rows == SECONDS * 5 - 1


@pytest.mark.parametrize("deid", [False, True])
@pytest.mark.parametrize("format", ["xlsx", "Parquet", ""])
def test_a_bad_format_is_a_problem_naming_it(client, site, deid_site, format, deid):  # noqa: F811
    url = path(deid_site, "pcs", deid=True) if deid else path(site, "etc")
    response = client.get(url, params={**DAY, "format": format})
    body = assert_problem(response, 400, "format")
    assert "csv, parquet, arrow" in body["detail"]


# -- de-identified files


@pytest.mark.parametrize("format", ["parquet", "arrow"])
def test_deidentified_files_carry_no_raw_name_and_no_key(
    client,
    deid_site,  # noqa: F811
    sensitive,  # noqa: F811
    format,
):
    window = {"start-time": "2024-03-01T00:00:00", "end-time": "2024-03-02T00:00:00"}
    for data_type in ("rack", "pcs"):
        content = download(client, path(deid_site, data_type, deid=True), format, **window)
        table = read_table(content, format)
        assert table.num_rows == {"rack": 2, "pcs": 1}[data_type]
        metadata = json.loads(table.schema.metadata[METADATA_KEY])
        assert metadata["deid_key_id"] == key_id(TEST_DEID_KEY)
        # names, metadata and bytes: the schema is also stored base64-encoded in Parquet
        texts = [content.decode("latin-1"), str(table.schema), json.dumps(metadata)]
        texts += [str(table.schema.metadata), *map(str, table.to_pylist())]
        for text in texts:
            assert TEST_DEID_KEY not in text
            assert not [name for name in sensitive if name in text]
        flags = [n for n in table.column_names if n.startswith(("rk_", "ps_"))]
        assert flags  # the sensitive columns are there, under their tokens
        assert all(metadata["units"].get(n) is None for n in flags)


def test_key_identifier_is_stable_and_not_the_key():
    assert key_id(TEST_DEID_KEY) == key_id(TEST_DEID_KEY)
    assert key_id(TEST_DEID_KEY) != key_id(TEST_DEID_KEY + "x")
    assert len(key_id(TEST_DEID_KEY)) == 16 and key_id(TEST_DEID_KEY) not in TEST_DEID_KEY


# -- ess export: the API's bytes


@pytest.mark.parametrize("format", ["csv", "parquet", "arrow"])
def test_ess_export_writes_the_api_download(
    client, site, migrated_url, monkeypatch, tmp_path, capsys, format
):
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    with_slice_rows(client, 50)
    monkeypatch.setenv("ESS_DOWNLOAD_SLICE_ROWS", "50")
    params = {"bank": 1, "tz": "UTC", "fields": "rack_soc,rack_module_fault", **DAY}
    expected = client.get(path(site, "rack"), params={**params, "format": format}).content
    out = tmp_path / f"racks.{format}"
    argv = ["export", "--site", str(site), "--component", "rack", "--bank", "1", "--tz", "UTC"]
    argv += ["--fields", "rack_soc,rack_module_fault", "--start", DAY["start-time"]]
    argv += ["--end", DAY["end-time"], "--format", format, "-o", str(out)]
    assert ess(argv) == 0
    assert out.read_bytes() == expected
    captured = capsys.readouterr()
    assert f"export: {SECONDS * 3 - 1:,} rows in 4 slice(s)" in captured.out
    assert "export: slice 4/4" in captured.err
    assert list(tmp_path.iterdir()) == [out]  # no partial file left


def test_ess_export_of_deidentified_data(
    client,
    deid_site,  # noqa: F811
    migrated_url,
    monkeypatch,
    tmp_path,
):
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    expected = download(client, path(deid_site, "rack", deid=True), "parquet", date="2024-03-01")
    out = tmp_path / "deid.parquet"
    argv = ["export", "--site", str(deid_site), "--component", "rack", "--date", "2024-03-01"]
    assert ess([*argv, "--deid", "--format", "parquet", "-o", str(out)]) == 0
    assert out.read_bytes() == expected


def test_ess_export_into_a_missing_folder_is_an_error(site, migrated_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    argv = ["export", "--site", str(site), "--component", "pcs", "--date", "2022-05-10"]
    assert ess([*argv, "-o", "/nonexistent-folder/pcs.csv"]) == 2
    assert "No such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--date", "2022-05-10", "--fields", "nope"], "(--fields)"),
        (["--start", "2022-05-10T00:00:00"], "(--end)"),
        (["--date", "2022-05-10", "--bank", "9"], "(--bank)"),
    ],
)
def test_ess_export_names_the_bad_option(
    site, migrated_url, monkeypatch, tmp_path, capsys, options, message
):
    monkeypatch.setenv("DATABASE_URL", migrated_url)
    out = tmp_path / "x.csv"
    assert (
        ess(["export", "--site", str(site), "--component", "rack", *options, "-o", str(out)]) == 2
    )
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# -- the conversion on its own


def test_csv_text_becomes_typed_values():
    columns = (
        OutputColumn("i", "i", "integer"),
        OutputColumn("f", "f", "float"),
        OutputColumn("j", "j", "json"),
    )
    types = [arrow_type(c, t) for c, t in zip(columns, ("int2", "float8", "jsonb"), strict=True)]
    assert types == [pa.int16(), pa.float64(), pa.string()]
    assert arrow_type(OutputColumn("x", "x", "integer"), "jsonb") == pa.int64()
    schema = pa.schema(
        [("timestamp", pa.timestamp("us", tz="Asia/Seoul"))]
        + [(c.name, t) for c, t in zip(columns, types, strict=True)]
    )
    chunks = [
        b'2022-05-10T10:00:00.25+09:00,1,NaN,"{""a"": 1}"\n',
        b"2022-05-10T01:00:00+00:00,,-Infinity,\n",
    ]
    batch = csv_batch(chunks, schema)
    assert batch.schema == schema
    first, second = batch.to_pylist()
    assert first["timestamp"].isoformat() == "2022-05-10T10:00:00.250000+09:00"
    assert second["timestamp"] == datetime.fromisoformat("2022-05-10T10:00:00+09:00")
    assert first["f"] != first["f"] and second["f"] == float("-inf")  # NaN, -Infinity
    assert (first["i"], second["i"]) == (1, None)
    assert (first["j"], second["j"]) == ('{"a": 1}', None)
    assert csv_batch([], schema).num_rows == 0
