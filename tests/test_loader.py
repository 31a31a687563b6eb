"""ess load: formats, validation with line numbers, all-or-nothing files, idempotency, refresh.

Every test loads into its own scratch site (template site 2 unless said otherwise: banks of 3 and
2 racks) and reads back only that site's rows."""

from __future__ import annotations

import csv
import gzip
import io
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from api.catalog.model import load_catalog
from api.cli import main
from api.loader.command import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, run
from api.loader.fastcsv import Declined, checked_batches
from api.loader.load import Loader, copy_from_stdin_supported
from api.loader.pgbinary import ARRAY_TYPES, PackedArray, dictionary_encode, register
from api.loader.pgcopy import SIGNATURE, TRAILER, encode_rows
from api.loader.plan import plan_file
from api.loader.sources import CsvSource

FAULTS = {"module1": 0, "module2": 1}
PY_FAULTS = "{'module1': 0, 'module2': 1}"


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def rack_rows(seconds: int, racks=((1, 1), (1, 2), (1, 3), (2, 1), (2, 2)), day: int = 10):
    """[timestamp, bank, rack, soc, status, fault map] rows with a +09:00 offset."""
    return [
        [f"2022-05-{day:02d} 00:00:{s:02d}+09:00", bank, rack, 50 + s, 1, PY_FAULTS]
        for s in range(seconds)
        for bank, rack in racks
    ]


RACK_HEADER = [
    "TIMESTAMP",
    "BANK_ID",
    "RACK_ID",
    "RACK_SOC",
    "RACK_STATUS_FOR_RUN",
    "RACK_MODULE_FAULT",
]


def load(conn, site, paths, component="rack", **options):
    out, err = io.StringIO(), io.StringIO()
    options.setdefault("refresh", False)
    code = run(conn, site, component, [str(p) for p in paths], out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def stored(conn, site, component="rack", columns="ts, bank_id, rack_id, rack_soc"):
    return conn.execute(
        f"SELECT {columns} FROM ess.{component} WHERE site_id = %s ORDER BY 1, 2, 3", (site,)
    ).fetchall()


def count(conn, site, component="rack") -> int:
    return conn.execute(
        f"SELECT count(*) FROM ess.{component} WHERE site_id = %s", (site,)
    ).fetchone()[0]


def test_same_file_twice_adds_nothing_the_second_time(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rack_rows(3))
    code, out, _ = load(conn, site, [path])
    assert code == EXIT_OK
    assert "15 rows: 15 inserted, 0 skipped" in out
    first = stored(conn, site, columns="*")

    code, out, _ = load(conn, site, [path])
    assert code == EXIT_OK
    assert "15 rows: 0 inserted, 15 skipped" in out
    assert stored(conn, site, columns="*") == first


def test_rows_repeated_in_a_file_are_skipped(conn, scratch_site, tmp_path):
    site = scratch_site()
    rows = rack_rows(2)
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rows + rows[:4] + rows[:1])
    code, out, _ = load(conn, site, [path])
    assert code == EXIT_OK
    assert "15 rows: 10 inserted, 5 skipped" in out
    assert count(conn, site) == 10


def test_unknown_column_is_named_and_valid_ones_listed(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(
        tmp_path / "rack.csv", [*RACK_HEADER, "RACK_SOX"], [[*r, 1] for r in rack_rows(1)]
    )
    code, out, err = load(conn, site, [path])
    assert code == EXIT_REJECTED
    assert "column 'RACK_SOX' is not a rack column of site" in err
    assert "rack_soc, rack_soh" in err  # the valid names, to spot the typo
    assert "rejected" in out
    assert count(conn, site) == 0


def test_a_column_of_another_site_is_unknown_here(conn, scratch_site, tmp_path):
    site = scratch_site(template_site=2)
    # site 1's racks report rack_cell_temperature_average; Panli's do not
    path = write_csv(
        tmp_path / "rack.csv",
        ["timestamp", "bank_id", "rack_id", "rack_cell_temperature_average"],
        [["2022-05-10 00:00:00", 1, 1, 30.0]],
    )
    code, _, err = load(conn, site, [path])
    assert code == EXIT_REJECTED
    assert "'rack_cell_temperature_average' is not a rack column" in err


def test_malformed_rows_are_reported_with_line_numbers_and_nothing_is_stored(
    conn, scratch_site, tmp_path
):
    site = scratch_site()
    good = rack_rows(1)
    bad = [
        ["2022-05-10 00:00:01+09:00", 1, 1, "abc", 1, "{}"],  # line 7: bad number
        ["2022-05-10 25:00:00+09:00", 1, 1, 1, 1, "{}"],  # line 8: bad timestamp
        ["2022-05-10 00:00:01+09:00", "x", 1, 1, 1, "{}"],  # line 9: wrong key type
        ["2022-05-10 00:00:01+09:00", 1, 2, 1, "1.5", "{}"],  # line 10: not an integer
        ["2022-05-10 00:00:01+09:00", 1, 3, 1, 99999, "{}"],  # line 11: smallint range
        ["2022-05-10 00:00:01+09:00", 2, 1, 1, 1],  # line 12: a field missing
        ["2022-05-10 00:00:01+09:00", "", 1, 1, 1, "{}"],  # line 13: empty key
        ["", 2, 2, 1, 1, "{}"],  # line 14: no time
        ["2022-05-10 00:00:02+09:00", 2, 2, "inf", 1, "{'a': "],  # line 15: two problems
    ]
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, good + bad)
    code, out, err = load(conn, site, [path])
    assert code == EXIT_REJECTED
    lines = err.splitlines()
    expected = {
        7: "RACK_SOC: 'abc' is not a number",
        8: "TIMESTAMP: '2022-05-10 25:00:00+09:00' is not a time",
        9: "BANK_ID: 'x' is not an integer",
        10: "RACK_STATUS_FOR_RUN: '1.5' is not an integer",
        11: "RACK_STATUS_FOR_RUN: '99999' is out of range",
        12: "has 5 fields, the header has 6",
        13: "BANK_ID: is empty (a key column needs a value)",
        14: "TIMESTAMP: is empty",
        15: "RACK_SOC: 'inf' is not a finite number; RACK_MODULE_FAULT: ",
    }
    for line, message in expected.items():
        assert any(text.strip().startswith(f"line {line}: {message}") for text in lines), (
            line,
            err,
        )
    assert "9 malformed rows" in err
    assert "9 rejected" in out
    assert count(conn, site) == 0  # the five good rows were not stored either


def test_checking_stops_after_max_errors(conn, scratch_site, tmp_path):
    site = scratch_site()
    rows = [[f"2022-05-10 00:00:{s:02d}", 1, 1, "bad", 1, "{}"] for s in range(30)]
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rows)
    code, _, err = load(conn, site, [path], max_errors=5, batch_rows=10)
    assert code == EXIT_REJECTED
    assert sum(line.startswith("  line ") for line in err.splitlines()) == 5
    assert "10 malformed rows in the first 10 rows (checking stops after 5 errors" in err


def test_a_failed_load_leaves_stored_rows_untouched(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(tmp_path / "first.csv", RACK_HEADER, rack_rows(2))
    assert load(conn, site, [path])[0] == EXIT_OK
    before = stored(conn, site, columns="*")

    # the same keys with other values, new keys, and one malformed row
    changed = [[*r[:3], 99.0, 0, "{}"] for r in rack_rows(3)]
    changed.append(["2022-05-10 00:00:09+09:00", 1, 1, "oops", 1, "{}"])
    path = write_csv(tmp_path / "second.csv", RACK_HEADER, changed)
    assert load(conn, site, [path])[0] == EXIT_REJECTED
    assert stored(conn, site, columns="*") == before


def test_naive_times_are_the_sites_local_time(conn, scratch_site, tmp_path):
    site = scratch_site()
    conn.execute("UPDATE ess.site SET timezone = 'America/New_York' WHERE site_id = %s", (site,))
    header = ["timestamp", "bank_id", "rack_id", "rack_soc"]
    naive = write_csv(tmp_path / "naive.csv", header, [["2022-05-10 00:00:01", 1, 1, 1.0]])
    offset = write_csv(
        tmp_path / "offset.csv",
        header,
        [["2022-05-10 00:00:01-04:00", 1, 1, 1.0], ["2022-05-10T04:00:01Z", 1, 1, 1.0]],
    )
    assert load(conn, site, [naive])[0] == EXIT_OK
    code, out, _ = load(conn, site, [offset])
    assert code == EXIT_OK
    assert "2 rows: 0 inserted, 2 skipped" in out  # the same instant, written three ways
    assert stored(conn, site) == [(datetime(2022, 5, 10, 4, 0, 1, tzinfo=UTC), 1, 1, 1.0)]


def test_json_columns_accept_json_and_python_dict_notation(conn, scratch_site, tmp_path):
    site = scratch_site()
    header = ["timestamp", "bank_id", "rack_id", "rack_module_fault"]
    rows = [
        ["2022-05-10 00:00:00", 1, 1, json.dumps(FAULTS)],
        ["2022-05-10 00:00:00", 1, 2, PY_FAULTS],
        ["2022-05-10 00:00:00", 1, 3, "{'nested': [1, -2.5, True, None, 'x']}"],
        ["2022-05-10 00:00:00", 2, 1, ""],
    ]
    assert load(conn, site, [write_csv(tmp_path / "rack.csv", header, rows)])[0] == EXIT_OK
    faults = [r[2] for r in stored(conn, site, columns="bank_id, rack_id, rack_module_fault")]
    assert faults == [FAULTS, FAULTS, {"nested": [1, -2.5, True, None, "x"]}, None]


@pytest.mark.parametrize(
    "cell",
    [
        "__import__('os').system('true')",
        "{'a': open('/etc/passwd')}",
        "{1: 0}",  # JSON keys are strings
        "{'a', 'b'}",
        "{'a': (1, 2)}",
        "{'a': float('nan')}",
        '{"a": NaN}',
    ],
)
def test_json_columns_refuse_anything_but_json_like_literals(conn, scratch_site, tmp_path, cell):
    site = scratch_site()
    header = ["timestamp", "bank_id", "rack_id", "rack_module_fault"]
    path = write_csv(tmp_path / "rack.csv", header, [["2022-05-10 00:00:00", 1, 1, cell]])
    code, _, err = load(conn, site, [path])
    assert code == EXIT_REJECTED
    assert "line 2: rack_module_fault: " in err
    assert count(conn, site) == 0


def test_headers_in_any_case_and_missing_columns_become_null(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(
        tmp_path / "rack.csv",
        ["Timestamp", "bank_ID", "RACK_ID", "Rack_Voltage", "rack_status_for_run"],
        [["2022-05-10 00:00:00+09:00", "1", "2.0", "912.5", "1.0"]],
    )
    assert load(conn, site, [path])[0] == EXIT_OK
    row = conn.execute(
        "SELECT rack_id, rack_voltage, rack_status_for_run, rack_soc, rack_module_fault "
        "FROM ess.rack WHERE site_id = %s",
        (site,),
    ).fetchone()
    assert row == (2, 912.5, 1, None, None)


def test_null_cells(conn, scratch_site, tmp_path):
    site = scratch_site()
    header = ["timestamp", "bank_id", "rack_id", "rack_soc", "rack_status_for_run"]
    rows = [
        ["2022-05-10 00:00:00", 1, 1, "", ""],
        ["2022-05-10 00:00:00", 1, 2, "NaN", "NULL"],
        ["2022-05-10 00:00:00", 1, 3, "nan", "None"],
    ]
    assert load(conn, site, [write_csv(tmp_path / "rack.csv", header, rows)])[0] == EXIT_OK
    assert conn.execute(
        "SELECT count(*) FROM ess.rack WHERE site_id = %s AND rack_soc IS NULL "
        "AND rack_status_for_run IS NULL",
        (site,),
    ).fetchone() == (3,)


def test_missing_key_column_rejects_the_file(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", ["timestamp", "bank_id"], [["2022-05-10", 1]])
    code, _, err = load(conn, site, [path])
    assert code == EXIT_REJECTED
    assert "missing key column rack_id" in err


def test_rows_outside_the_sites_topology_are_rejected(conn, scratch_site, tmp_path):
    site = scratch_site(rack_counts=(3, 2))
    rows = [
        *rack_rows(1),
        ["2022-05-10 00:00:05+09:00", 3, 1, 1, 1, "{}"],  # line 7: no bank 3
        ["2022-05-10 00:00:05+09:00", 2, 3, 1, 1, "{}"],  # line 8: bank 2 has 2 racks
    ]
    code, _, err = load(conn, site, [write_csv(tmp_path / "rack.csv", RACK_HEADER, rows)])
    assert code == EXIT_REJECTED
    assert f"line 7: site {site} has no bank 3 (banks: 1, 2)" in err
    assert f"line 8: bank 2 of site {site} has no rack 3 (racks 1 to 2)" in err
    assert count(conn, site) == 0


def test_bank_and_site_level_components(conn, scratch_site, tmp_path):
    site = scratch_site()
    bank = write_csv(
        tmp_path / "bank.csv",
        ["TIMESTAMP", "BANK_ID", "BANK_SOC", "MASTER_RACK_COMMUNICATION_FAULT"],
        [
            ["2022-05-10 00:00:00+09:00", 1, 55.5, "{'rack1': 0, 'rack2': 0, 'rack3': 1}"],
            ["2022-05-10 00:00:00+09:00", 2, 56.5, '{"rack1": 0, "rack2": 0}'],
        ],
    )
    assert load(conn, site, [bank], component="bank")[0] == EXIT_OK
    assert conn.execute(
        "SELECT bank_id, master_rack_communication_fault FROM ess.bank WHERE site_id = %s "
        "ORDER BY bank_id",
        (site,),
    ).fetchall() == [(1, {"rack1": 0, "rack2": 0, "rack3": 1}), (2, {"rack1": 0, "rack2": 0})]

    # pcs rows are identified by time alone; Panli's PCS has no bank_id column
    pcs = write_csv(
        tmp_path / "pcs.csv",
        ["TIMESTAMP", "AI_VDC", "ST_RUN"],
        [["2022-05-10 00:00:00+09:00", 900.1, 1], ["2022-05-10 00:00:01+09:00", 900.2, 0]],
    )
    assert load(conn, site, [pcs], component="pcs")[0] == EXIT_OK
    assert count(conn, site, "pcs") == 2
    bad = write_csv(tmp_path / "pcs2.csv", ["TIMESTAMP", "BANK_ID"], [["2022-05-10", 1]])
    code, _, err = load(conn, site, [bad], component="pcs")
    assert code == EXIT_REJECTED
    assert "'BANK_ID' is not a pcs column" in err


def test_site_1_communication_fault_is_an_integer_stored_as_json(conn, scratch_site, tmp_path):
    site = scratch_site(template_site=1, rack_counts=(8,))
    header = ["timestamp", "bank_id", "master_rack_communication_fault", "bank_soc"]
    path = write_csv(tmp_path / "bank.csv", header, [["2022-05-10 00:00:00", 1, "1.0", 50]])
    assert load(conn, site, [path], component="bank")[0] == EXIT_OK
    assert conn.execute(
        "SELECT master_rack_communication_fault FROM ess.bank WHERE site_id = %s", (site,)
    ).fetchone() == (1,)

    path = write_csv(tmp_path / "bad.csv", header, [["2022-05-10 00:00:01", 1, "{'rack1': 0}", 1]])
    code, _, err = load(conn, site, [path], component="bank")
    assert code == EXIT_REJECTED
    assert "master_rack_communication_fault: \"{'rack1': 0}\" is not an integer" in err


def test_site_1_etc_bank_id_is_checked_against_the_topology(conn, scratch_site, tmp_path):
    site = scratch_site(template_site=1, rack_counts=(8,))
    header = ["timestamp", "bank_id", "sensor1_temperature"]
    rows = [["2022-05-10 00:00:00", 1, 25.0], ["2022-05-10 00:00:01", "", 25.5]]
    assert load(conn, site, [write_csv(tmp_path / "etc.csv", header, rows)], "etc")[0] == EXIT_OK
    rows = [["2022-05-10 00:00:02", 2, 25.0]]
    code, _, err = load(conn, site, [write_csv(tmp_path / "etc2.csv", header, rows)], "etc")
    assert code == EXIT_REJECTED
    assert f"line 2: site {site} has no bank 2" in err


def test_many_batches_gzip_and_several_files(conn, scratch_site, tmp_path):
    site = scratch_site()
    plain = write_csv(tmp_path / "day10.csv", RACK_HEADER, rack_rows(20, day=10))
    zipped = tmp_path / "day11.csv.gz"
    with gzip.open(zipped, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(RACK_HEADER)
        writer.writerows(rack_rows(20, day=11))
    code, out, _ = load(conn, site, [plain, zipped], batch_rows=7)
    assert code == EXIT_OK
    assert "total: 2 files (0 rejected), 200 rows: 200 inserted, 0 skipped, 0 rejected" in out
    assert count(conn, site) == 200
    assert conn.execute(
        "SELECT count(DISTINCT rack_module_fault), min(rack_soc), max(rack_soc) "
        "FROM ess.rack WHERE site_id = %s",
        (site,),
    ).fetchone() == (1, 50.0, 69.0)


def test_a_rejected_file_does_not_stop_the_others(conn, scratch_site, tmp_path):
    site = scratch_site()
    bad = write_csv(tmp_path / "bad.csv", RACK_HEADER, [["never", 1, 1, 1, 1, "{}"]])
    good = write_csv(tmp_path / "good.csv", RACK_HEADER, rack_rows(1))
    code, out, _ = load(conn, site, [bad, good])
    assert code == EXIT_REJECTED
    assert "good.csv: 5 rows: 5 inserted" in out
    assert count(conn, site) == 5


def test_parquet_and_feather_with_typed_columns(conn, scratch_site, tmp_path):
    site = scratch_site()
    table = pa.table(
        {
            "TIMESTAMP": pa.array(
                [datetime(2022, 5, 9, 15, 0, s, tzinfo=UTC) for s in range(3)],
                pa.timestamp("ns", tz="Asia/Seoul"),
            ),
            "BANK_ID": pa.array([1, 1, 2], pa.int64()),
            "RACK_ID": pa.array([1, 2, 1], pa.int32()),
            "RACK_SOC": pa.array([50.5, None, float("nan")], pa.float32()),
            "RACK_STATUS_FOR_RUN": pa.array([1.0, 0.0, None], pa.float64()),
            "RACK_CHARGE_RELAY_PLUS_STATUS": pa.array([True, False, None]),
            "RACK_MODULE_FAULT": pa.array([PY_FAULTS, json.dumps(FAULTS), None]),
            "__index_level_0__": pa.array([0, 1, 2]),
        }
    )
    pq.write_table(table, tmp_path / "rack.parquet")
    code, out, err = load(conn, site, [tmp_path / "rack.parquet"])
    assert code == EXIT_OK, err
    assert "3 rows: 3 inserted" in out
    assert "ignored unnamed column(s) '__index_level_0__'" in err
    assert conn.execute(
        "SELECT ts, bank_id, rack_id, rack_soc, rack_status_for_run, "
        "rack_charge_relay_plus_status, rack_module_fault "
        "FROM ess.rack WHERE site_id = %s ORDER BY ts",
        (site,),
    ).fetchall() == [
        (datetime(2022, 5, 9, 15, 0, 0, tzinfo=UTC), 1, 1, 50.5, 1, 1, FAULTS),
        (datetime(2022, 5, 9, 15, 0, 1, tzinfo=UTC), 1, 2, None, 0, 0, FAULTS),
        (datetime(2022, 5, 9, 15, 0, 2, tzinfo=UTC), 2, 1, None, None, None, None),
    ]

    # feather with naive times (the site's local time): the same rows, so nothing new
    naive = table.set_column(
        0,
        "timestamp",
        pa.array([datetime(2022, 5, 10, 0, 0, s) for s in range(3)], pa.timestamp("us")),
    )
    feather.write_feather(naive, tmp_path / "rack.feather")
    code, out, err = load(conn, site, [tmp_path / "rack.feather"])
    assert code == EXIT_OK, err
    assert "3 rows: 0 inserted, 3 skipped" in out


def test_parquet_malformed_rows_are_reported_by_row_number(conn, scratch_site, tmp_path):
    site = scratch_site()
    table = pa.table(
        {
            "timestamp": pa.array(["2022-05-10 00:00:00", "2022-05-10 00:00:01", "later"]),
            "bank_id": pa.array([1, 7, 1]),
            "rack_id": pa.array([1, 1, 1]),
            "rack_status_for_run": pa.array([1.0, 0.5, 1.0]),
        }
    )
    pq.write_table(table, tmp_path / "rack.parquet")
    code, _, err = load(conn, site, [tmp_path / "rack.parquet"])
    assert code == EXIT_REJECTED
    assert "row 2: rack_status_for_run: 0.5 is not an integer; site" in err
    assert "row 3: timestamp: 'later' is not a time" in err
    assert count(conn, site) == 0


def test_usage_errors(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rack_rows(1))
    code, _, err = load(conn, 32000, [path])
    assert code == EXIT_USAGE
    assert "operating site 32000 does not exist" in err
    code, _, err = load(conn, site, [tmp_path / "missing.csv"])
    assert (code, err.strip()) == (
        EXIT_USAGE,
        f"ess load: {tmp_path / 'missing.csv'}: no such file",
    )
    other = tmp_path / "rack.xlsx"
    other.write_bytes(b"")
    code, _, err = load(conn, site, [other])
    assert code == EXIT_USAGE
    assert "unsupported file type" in err


def test_binary_arrays_round_trip_through_the_server(conn):
    register(conn)
    cases = {
        "double precision": [1.5, None, -0.0, 1e300],
        "smallint": [0, -32768, 32767, None],
        "integer": [2**31 - 1, None],
        "bigint": [-(2**63), 5],
        "real": [0.5, None],
    }
    for sql_type, values in cases.items():
        array = ARRAY_TYPES[sql_type]
        encoded = PackedArray(array.encode(values))
        assert conn.execute(f"SELECT %s::{array.name}[]", (encoded,)).fetchone()[0] == values
    dictionary, indexes = dictionary_encode([b'{"a":1}', None, b'{"a":1}', b"[2]"])
    assert conn.execute(
        "SELECT array_agg((%s::jsonb[])[i] ORDER BY n) FROM unnest(%s::int2[]) "
        "WITH ORDINALITY AS u (i, n)",
        (PackedArray(dictionary), PackedArray(indexes)),
    ).fetchone()[0] == [{"a": 1}, None, {"a": 1}, [2]]


def _materialised_rows(conn: psycopg.Connection, site: int) -> int:
    table = conn.execute(
        "SELECT format('%I.%I', h.schema_name, h.table_name) "
        "FROM _timescaledb_catalog.continuous_agg AS agg "
        "INNER JOIN _timescaledb_catalog.hypertable AS h ON h.id = agg.mat_hypertable_id "
        "WHERE agg.user_view_schema = 'ess' AND agg.user_view_name = 'rack_1m'"
    ).fetchone()[0]
    return conn.execute(
        f"SELECT coalesce(sum(n_rows), 0) FROM {table} WHERE site_id = %s", (site,)
    ).fetchone()[0]


def test_command_line_end_to_end_refreshes_the_aggregates(
    conn, scratch_site, tmp_path, migrated_url, monkeypatch, capsys
):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rack_rows(4, day=12))
    monkeypatch.setenv("DATABASE_URL", migrated_url)

    assert (
        main(["load", "--site", str(site), "--component", "rack", "--no-refresh", str(path)]) == 0
    )
    assert "20 rows: 20 inserted" in capsys.readouterr().out
    assert _materialised_rows(conn, site) == 0  # not refreshed

    assert main(["load", "--site", str(site), "--component", "rack", str(path)]) == 0
    out = capsys.readouterr().out
    assert "20 rows: 0 inserted, 20 skipped" in out
    assert "refreshed" in out
    assert _materialised_rows(conn, site) == 20

    bad = write_csv(tmp_path / "bad.csv", RACK_HEADER, [["x", 1, 1, 1, 1, "{}"]])
    assert main(["load", "--site", str(site), "--component", "rack", str(bad)]) == 1
    assert main(["load", "--site", "32000", "--component", "rack", str(path)]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["load", "--site", str(site), "--component", "cell", str(path)])
    assert exc.value.code == 2


def test_bom_crlf_and_a_record_over_two_lines_keep_line_numbers_right(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = tmp_path / "rack.csv"
    path.write_bytes(
        "\ufeffTIMESTAMP,BANK_ID,RACK_ID,RACK_MODULE_FAULT\r\n"
        "2022-05-10 00:00:00,1,1,\"{'module1':\r\n 0}\"\r\n"
        "2022-05-10 00:00:00,1,2,broken\r\n".encode()
    )
    code, _, err = load(conn, site, [path])
    assert code == EXIT_REJECTED
    assert "line 4: RACK_MODULE_FAULT: 'broken' holds something other than JSON" in err

    path.write_bytes(path.read_bytes().replace(b"broken", b"{}"))
    assert load(conn, site, [path])[0] == EXIT_OK
    assert [r[2] for r in stored(conn, site, columns="bank_id, rack_id, rack_module_fault")] == [
        {"module1": 0},
        {},
    ]


def test_a_file_with_only_a_header_loads_nothing(conn, scratch_site, tmp_path):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, [])
    code, out, _ = load(conn, site, [path], refresh=True)
    assert code == EXIT_OK
    assert "0 rows: 0 inserted" in out
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = load(conn, site, [empty])
    assert code == EXIT_REJECTED
    assert "rejected, nothing stored: the file is empty: a CSV file starts with a header" in err


def test_unreadable_files_are_rejected(conn, scratch_site, tmp_path):
    site = scratch_site()
    garbage = tmp_path / "rack.parquet"
    garbage.write_bytes(b"not parquet at all")
    code, _, err = load(conn, site, [garbage])
    assert code == EXIT_REJECTED
    assert "the file cannot be read as parquet" in err

    latin1 = tmp_path / "rack.csv"
    latin1.write_bytes(b"timestamp,bank_id,rack_id,rack_soc\n2022-05-10 00:00:00,1,1,5\xe9\n")
    code, _, err = load(conn, site, [latin1])
    assert code == EXIT_REJECTED
    assert "is not UTF-8 text" in err
    assert count(conn, site) == 0


def test_progress_lines_report_rows_and_rate(conn, pool, scratch_site, tmp_path, monkeypatch):
    import api.loader.load

    monkeypatch.setattr(api.loader.load, "PROGRESS_EVERY_SECONDS", 0.0)
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rack_rows(4))
    code, out, err = load(conn, site, [path], batch_rows=5)
    assert code == EXIT_OK
    progress = [line for line in err.splitlines() if line.startswith("ess load: rack.csv:")]
    if pool.embedded:  # the INSERT path: checked, then sent
        assert "ess load: rack.csv: checked 5 rows (" in progress[0]
        assert progress[-1].startswith("ess load: rack.csv: sent 20 of 20 rows (")
        assert " rows/s (checked in " in out
    else:  # the COPY path: checked and staged batch by batch, then moved at once
        assert "ess load: rack.csv: checked and staged 5 rows (" in progress[0]
        assert progress[-1].startswith("ess load: rack.csv: checked and staged 20 rows (")
        assert " rows/s (checked and staged in " in out and " s, moved in " in out
    assert all(line.endswith(" rows/s)") for line in progress)


# -- the two ways to store: COPY into a staging table (a real server), INSERT (embedded engine) ---

EMBEDDED_VERSION = (
    "PostgreSQL 17.5 on x86_64-pc-linux-gnu, compiled by emcc (Emscripten gcc/clang-like "
    "replacement + linker emulating GNU ld) 3.1.74, 32-bit"
)
SERVER_VERSION = (
    "PostgreSQL 15.20 (Debian 15.20-0+deb12u1) on x86_64-pc-linux-gnu, compiled by gcc "
    "(Debian 12.2.0-14) 12.2.0, 64-bit"
)


def test_copy_is_chosen_where_the_server_takes_copy_from_stdin():
    assert copy_from_stdin_supported(SERVER_VERSION)
    assert not copy_from_stdin_supported(EMBEDDED_VERSION)


def test_files_are_stored_the_way_the_server_supports(conn, pool, scratch_site, tmp_path):
    """The whole module runs on either path (ESS_TEST_DATABASE_URL: a real server, COPY);
    here the path taken is asserted, with its counts and an all-or-nothing failure late in a
    file whose first batches were already streamed."""
    site = scratch_site()
    loader = Loader(
        conn,
        load_catalog(conn),
        load_catalog(conn).require_site(site),
        "rack",
        batch_rows=4,
        progress=None,
    )
    expected = "insert" if pool.embedded else "copy"
    assert loader.method == expected
    rows = rack_rows(3)
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rows + rows[:2])  # 2 repeated rows
    report = loader.load(path)
    assert (report.method, report.accepted) == (expected, True)
    assert (report.rows, report.inserted, report.skipped) == (17, 15, 2)
    assert stored(conn, site, columns="ts, bank_id, rack_id, rack_module_fault")[0][3] == FAULTS
    assert (loader.load(path).inserted, count(conn, site)) == (0, 15)

    later = rack_rows(3, day=11)
    later[13][3] = "not a number"  # in the fourth batch of 4 rows
    late_failure = loader.load(write_csv(tmp_path / "later.csv", RACK_HEADER, later))
    assert not late_failure.accepted and late_failure.inserted == 0
    assert count(conn, site) == 15
    assert not conn.info.transaction_status  # idle: nothing left open by a rolled back file


def _decode_copy_rows(data: bytes, columns: int) -> list[list[bytes | None]]:
    """Rows of raw field bytes from binary COPY data without signature or trailer."""
    rows, at = [], 0
    while at < len(data):
        (count_,) = struct.unpack_from(">h", data, at)
        assert count_ == columns
        at += 2
        fields = []
        for _ in range(count_):
            (length,) = struct.unpack_from(">i", data, at)
            at += 4
            fields.append(None if length < 0 else data[at : at + length])
            at += max(length, 0)
        rows.append(fields)
    return rows


def test_binary_copy_rows_pack_fixed_columns_as_a_block_and_splice_the_others(conn, pool):
    types = ["timestamp with time zone", "smallint", "double precision", "jsonb", "real"]
    columns = [
        [1, 2, 3],
        [1, 2, 3],
        [1.5, None, -2.0],
        [b'{"a":1}', None, b'{"a":1}'],
        [0.5, 0.25, 1.0],
    ]
    order, data = encode_rows(types, columns)
    assert order == [0, 1, 4, 2, 3]  # the block: no NULL, fixed width; then value by value
    rows = _decode_copy_rows(data, len(types))
    assert rows[1] == [
        struct.pack(">q", 2),
        struct.pack(">h", 2),
        struct.pack(">f", 0.25),
        None,
        None,
    ]
    assert rows[2][4] == b'\x01{"a":1}'  # jsonb: version byte and text
    # fields of one size on every row (a fault map that repeats) join the block
    same_order, same_size = encode_rows(["jsonb", "smallint"], [[b'{"a":1}', b'{"a":2}'], [7, 8]])
    assert same_order == [0, 1]
    assert _decode_copy_rows(same_size, 2) == [
        [b'\x01{"a":1}', struct.pack(">h", 7)],
        [b'\x01{"a":2}', struct.pack(">h", 8)],
    ]
    if pool.embedded:
        return  # the embedded engine takes no COPY FROM STDIN; the bytes are checked above
    with conn.transaction():
        conn.execute(
            "CREATE TEMPORARY TABLE copy_check (t timestamptz, s int2, d float8, j jsonb, "
            "r float4) ON COMMIT DROP"
        )
        names = ", ".join("tsdjr"[i] for i in order)
        with conn.cursor().copy(f"COPY copy_check ({names}) FROM STDIN (FORMAT binary)") as copy:
            copy.write(SIGNATURE + data + TRAILER)
        back = conn.execute(
            "SELECT (t - '2000-01-01 UTC')::text, s, d, j, r FROM copy_check ORDER BY s"
        ).fetchall()
    assert back == [
        ("00:00:00.000001", 1, 1.5, {"a": 1}, 0.5),
        ("00:00:00.000002", 2, None, None, 0.25),
        ("00:00:00.000003", 3, -2.0, {"a": 1}, 1.0),
    ]


# -- the fast path (api/loader/fastcsv.py) against the careful one ------------------------------


def _plan_and_loader(conn, site: int, path: Path, batch_rows: int):
    catalog = load_catalog(conn)
    loader = Loader(
        conn, catalog, catalog.require_site(site), "rack", batch_rows=batch_rows, progress=None
    )
    source = CsvSource(path)
    try:
        plan = plan_file(loader.site, "rack", loader.key_columns, source.headers, source.kinds)
    finally:
        source.close()
    return plan, loader


def _careful_columns(loader: Loader, plan, path: Path, batch_rows: int) -> list[list[list]]:
    source = CsvSource(path)
    try:
        used = [c.source_index for c in plan.columns]
        checked = [loader._check(plan, raw, "line") for raw in source.batches(batch_rows, used)]
    finally:
        source.close()
    assert all(not errors for _, errors in checked)
    return [columns for columns, _ in checked]


TRICKY_VALID = (
    "\ufeffTIMESTAMP,Unnamed: 0,BANK_ID,RACK_ID,RACK_SOC,RACK_STATUS_FOR_RUN,RACK_MODULE_FAULT\r\n"
    "2022-05-10 00:00:00+09:00,0,1,1,50.5,1,\"{'module1': 0,\r\n 'module2': 1}\"\r\n"
    '2022-05-10 00:00:00,1,1,2, 1e2 ,1.0,"{""module1"": 0}"\r\n'
    "\r\n"
    "2022-05-10T00:00:01+00:00,2,1,3,NaN,NULL,null\r\n"
    "2022-05-10 00:00:01+09:00,3,2,1,,n/a,\r\n"
    "2022-05-10 00:00:02+09:00,4,2,2,-0.25,None,\\N\r\n"
)


@pytest.mark.parametrize("gzipped", [False, True])
def test_fast_path_converts_valid_files_exactly_as_the_careful_path(
    conn, scratch_site, tmp_path, monkeypatch, gzipped
):
    """BOM, CRLF, a quoted record over two lines, a blank line, an ignored pandas index, null
    tokens, naive and UTC times, '1.0' in an integer column, Python-dict and JSON fault maps."""
    site = scratch_site()
    path = tmp_path / ("rack.CSV.GZ" if gzipped else "rack.csv")
    data = TRICKY_VALID.encode()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    plan, loader = _plan_and_loader(conn, site, path, batch_rows=2)
    width = len(TRICKY_VALID.split("\r\n")[0].split(","))
    fast = list(checked_batches(path, plan, width, 2))
    assert fast == _careful_columns(loader, plan, path, 2)
    assert [len(columns[0]) for columns in fast] == [2, 2, 1]

    sent_fast: list[int] = []

    def spy(*args):
        for columns in checked_batches(*args):
            sent_fast.append(len(columns[0]))
            yield columns

    monkeypatch.setattr("api.loader.load.checked_batches", spy)
    code, out, _ = load(conn, site, [path])
    assert code == EXIT_OK and "5 rows: 5 inserted, 0 skipped" in out
    assert sent_fast == [5]  # the loader took the fast path
    assert stored(conn, site, columns="bank_id, rack_id, rack_soc, rack_module_fault") == [
        (1, 1, 50.5, FAULTS),
        (1, 2, 100.0, {"module1": 0}),
        (1, 3, None, None),
        (2, 1, None, None),
        (2, 2, -0.25, None),
    ]


BAD_CELLS = {
    "a bad number": (3, "abc"),
    "an infinity": (3, "-inf"),
    "an integer out of range": (4, "99999"),
    "a fraction in an integer column": (4, "1.5"),
    "an empty key": (1, ""),
    "a bad time": (0, "2022-05-10 25:00:00+09:00"),
    "an empty time": (0, " "),
    "a bad fault map": (5, "{'a': "),
    "a bank the site does not have": (1, "7"),
    "a rack the site does not have": (2, "9"),
}


def _refusal(result: tuple[int, str, str]) -> tuple[int, str, str]:
    """Exit code, messages and the file's line of a refused load (the total has a rate)."""
    code, out, err = result
    assert code == EXIT_REJECTED, out
    return code, err, out.splitlines()[0]


def _fast_path_disabled(monkeypatch) -> None:
    def declined(*args):
        raise Declined("disabled by the test")
        yield  # a generator, as checked_batches

    monkeypatch.setattr("api.loader.load.checked_batches", declined)


@pytest.mark.parametrize("bad", BAD_CELLS, ids=list(BAD_CELLS))
def test_each_kind_of_bad_value_gives_the_careful_paths_report(
    conn, scratch_site, tmp_path, monkeypatch, bad
):
    """The bad value sits in the third batch, after two were sent on the fast path: the file is
    refused with the careful path's message and line, nothing is stored."""
    site = scratch_site()
    rows = rack_rows(3)
    column, cell = BAD_CELLS[bad]
    rows[12][column] = cell  # line 14
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rows)
    fast = _refusal(load(conn, site, [path], batch_rows=5))
    assert "\n  line 14: " in fast[1]
    assert count(conn, site) == 0
    _fast_path_disabled(monkeypatch)
    assert _refusal(load(conn, site, [path], batch_rows=5)) == fast


@pytest.mark.parametrize(
    "row",
    [
        ["2022-05-10 00:00:02+09:00", 1, 1, 1, 1],  # a field missing
        ["2022-05-10 00:00:02+09:00", 1, 1, 1, 1, "{}", "extra"],
    ],
    ids=["fewer fields", "more fields"],
)
def test_rows_of_the_wrong_width_give_the_careful_paths_report(
    conn, scratch_site, tmp_path, monkeypatch, row
):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, [*rack_rows(2), row])
    fast = _refusal(load(conn, site, [path]))
    assert "\n  line 12: has " in fast[1]
    _fast_path_disabled(monkeypatch)
    assert _refusal(load(conn, site, [path])) == fast


def test_text_that_is_not_utf8_gives_the_careful_paths_report(
    conn, scratch_site, tmp_path, monkeypatch
):
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rack_rows(2))
    path.write_bytes(path.read_bytes().replace(b"{'module1'", b"{'m\xe9dule1'", 1))
    fast = _refusal(load(conn, site, [path]))
    assert "is not UTF-8 text" in fast[1]
    _fast_path_disabled(monkeypatch)
    assert _refusal(load(conn, site, [path])) == fast


def test_a_declined_fast_path_discards_the_batches_it_sent(
    conn, scratch_site, tmp_path, monkeypatch
):
    """If the fast path gives way after sending batches, the careful path starts over: what the
    fast path sent (here a corrupted batch) is not stored, on either store path."""
    site = scratch_site()
    path = write_csv(tmp_path / "rack.csv", RACK_HEADER, rack_rows(3))

    def corrupted_then_declined(path, plan, width, size):
        columns = next(checked_batches(path, plan, width, size))
        soc = plan.index_of("rack_soc")
        columns[soc] = [value + 1000 for value in columns[soc]]
        yield columns
        raise Declined("late")

    monkeypatch.setattr("api.loader.load.checked_batches", corrupted_then_declined)
    code, out, _ = load(conn, site, [path], batch_rows=4)
    assert code == EXIT_OK and "15 rows: 15 inserted, 0 skipped" in out
    assert max(soc for *_, soc in stored(conn, site)) == 52.0
