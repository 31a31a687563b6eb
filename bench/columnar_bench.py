"""Columnar downloads: CSV, CSV+gzip, Parquet and Arrow of one site-day at 1 Hz, each against
`COPY ... TO STDOUT` of the same rows in the same run; pandas read-back of each file; peak RSS
of the API process during each download; and how a slice is best turned into typed columns.

    .venv/bin/pip install -e '.[bench]'   # pandas
    .venv/bin/python bench/columnar_bench.py [download|slice|encoder|all] [--database-url URL]
        [--site N] [--repetitions N]

Data and server as bench/operating_data_bench.py: its own embedded engine (restarted before every
measurement), a scratch site with Panli's columns and 17 racks, one local day (2023-04-10) at
1 Hz from the demo generator (1,430,822 rack rows), the API as a real uvicorn process read by an
HTTP client that writes every byte to a file.

download  GET /api/ess/download/operating-sites/{site}/rack/?date=... as csv (identity), csv
          with Accept-Encoding: gzip, format=parquet and format=arrow: seconds, bytes, peak RSS
          of the API process; against one `COPY (the same statement) TO STDOUT` via psycopg.
          Then each file read back into a pandas DataFrame (read_csv, read_parquet, and the
          Arrow stream through pyarrow's to_pandas), checked to hold the same number of rows.
encoder   the encoders alone (no database): RSS while one synthetic 30,000-row slice is encoded
          60 times as Parquet and as Arrow, to show that memory stays flat
slice     one 30,000-row slice into an Arrow table three ways: the CSV COPY parsed by pyarrow
          (what the API does), a typed binary SELECT decoded by psycopg, and COPY (FORMAT binary)
          decoded by psycopg, the last two then turned into Arrow arrays.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as pa_ipc
from common import engine_version, machine, write_results
from operating_data_bench import (
    DAY,
    RACKS,
    Database,
    Server,
    api_server,
    copy_on_engine,
    database,
    day_selection,
    drop_scratch_site,
    peak_rss,
    scratch_site,
)
from psycopg import sql

from api.db import connect, open_pool
from api.demo import generate
from api.operating_data.columnar import ColumnarEncoder, arrow_schema, csv_batch
from api.operating_data.execute import SLICE_WORK_MEM, output_types
from api.operating_data.plan import Selection
from api.operating_data.sqlbuild import _ISO_TIME as ISO_TIME
from api.operating_data.sqlbuild import copy_statement, rows_query
from api.params import Window

# label -> (query parameters, request headers)
DOWNLOADS = {
    "CSV": ({}, {"Accept-Encoding": "identity"}),
    "CSV, gzip level 1": ({}, {"Accept-Encoding": "gzip"}),
    "Parquet (zstd)": ({"format": "parquet"}, {}),
    "Arrow IPC stream": ({"format": "arrow"}, {}),
}


def fetch_to_file(server: Server, path: str, params: dict, headers: dict, out: Path) -> dict:
    """Every byte of the download as it came over the wire (gzip left compressed)."""
    began = time.perf_counter()
    first_byte = None
    with (
        httpx.stream(
            "GET",
            server.base + path,
            params=params,
            headers={**server.headers, **headers},
            timeout=900,
        ) as response,
        out.open("wb") as file,
    ):
        assert response.status_code == 200, response.read()
        for chunk in response.iter_raw():
            if first_byte is None:
                first_byte = time.perf_counter() - began
            file.write(chunk)
    return {
        "seconds": time.perf_counter() - began,
        "first_byte_s": first_byte,
        "bytes": out.stat().st_size,
    }


def read_back(label: str, file: Path) -> tuple[float, int]:
    """Seconds for pandas to have the file as a DataFrame, and its rows."""
    began = time.perf_counter()
    if label.startswith("CSV"):
        frame = pd.read_csv(file, compression="gzip" if "gzip" in label else None)
    elif label.startswith("Parquet"):
        frame = pd.read_parquet(file)
    else:
        with pa.memory_map(str(file)) as source:
            frame = pa_ipc.open_stream(source).read_all().to_pandas()
    return time.perf_counter() - began, len(frame)


def bench_downloads(db: Database, site_id: int, repetitions: int, report: dict) -> None:
    selection = day_selection(db.url, site_id)
    path = f"/api/ess/download/operating-sites/{site_id}/rack/"
    day = {"date": DAY.isoformat()}
    results: dict[str, list[dict]] = {"COPY TO STDOUT (engine)": []}
    results |= {label: [] for label in DOWNLOADS}
    with tempfile.TemporaryDirectory(prefix="ess-columnar-bench-") as tmp:
        files = {label: Path(tmp) / f"download-{n}" for n, label in enumerate(DOWNLOADS)}
        for _ in range(repetitions):
            db.fresh()
            raw = copy_on_engine(db.url, selection, [selection.window])
            results["COPY TO STDOUT (engine)"].append(
                {"seconds": raw.seconds, "bytes": raw.csv_bytes, "rows": raw.rows}
            )
            for label, (params, headers) in DOWNLOADS.items():
                db.fresh()
                with api_server(db.url) as server, peak_rss(server) as rss:
                    measured = fetch_to_file(server, path, {**day, **params}, headers, files[label])
                results[label].append({**measured, "peak_rss_mib": rss["peak_mib"]})
        rows = results["COPY TO STDOUT (engine)"][0]["rows"]
        for label, file in files.items():
            seconds, frame_rows = read_back(label, file)
            assert frame_rows == rows, f"{label}: {frame_rows} rows, COPY gave {rows}"
            for result in results[label]:
                result["pandas_read_s"] = seconds
    best = {label: min(runs, key=lambda r: r["seconds"]) for label, runs in results.items()}
    raw = best["COPY TO STDOUT (engine)"]
    print(
        f"\nOne day of all {sum(RACKS)} racks, {rows:,} rows; best of {repetitions}; "
        "ratios against one COPY TO STDOUT of the same rows"
    )
    print(
        f"{'':<26}{'s':>7}{'vs COPY':>9}{'MB':>9}{'vs COPY':>9}{'1st byte':>10}"
        f"{'peak RSS':>10}{'pandas s':>10}"
    )
    report["downloads"] = {}
    for label, result in best.items():
        pandas_s = result.get("pandas_read_s")
        rss = result.get("peak_rss_mib")
        first = result.get("first_byte_s")
        print(
            f"{label:<26}{result['seconds']:>7.1f}{result['seconds'] / raw['seconds']:>9.2f}"
            f"{result['bytes'] / 1e6:>9.1f}{result['bytes'] / raw['bytes']:>9.3f}"
            f"{f'{first:.2f} s' if first is not None else '':>10}"
            f"{f'{rss:.0f} MiB' if rss else '':>10}"
            f"{f'{pandas_s:.1f}' if pandas_s is not None else '':>10}"
        )
        report["downloads"][label] = {
            **result,
            "seconds_vs_copy": result["seconds"] / raw["seconds"],
            "bytes_vs_copy": result["bytes"] / raw["bytes"],
            "all_seconds": [r["seconds"] for r in results[label]],
        }
    report["rows"] = rows


# -- one slice into Arrow, three ways


def _session(conn, selection: Selection) -> None:
    conn.execute("SELECT set_config('TimeZone', %s, true)", (selection.tz,))
    conn.execute("SELECT set_config('work_mem', %s, true)", (SLICE_WORK_MEM,))


def _arrays(rows: list[tuple], schema: pa.Schema) -> pa.Table:
    """Rows of Python values (time as datetime, JSON as Python objects) -> an Arrow table."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = []
    for field, values in zip(schema, columns, strict=True):
        if pa.types.is_string(field.type):
            values = [None if v is None else json.dumps(v) for v in values]
        arrays.append(pa.array(values, field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def via_csv(conn, selection: Selection, window: Window, schema: pa.Schema) -> pa.Table:
    query, params = rows_query(selection, window=window)
    with conn.cursor().copy(copy_statement(query, False), params) as copy:
        chunks = [bytes(block) for block in copy]
    return pa.Table.from_batches([csv_batch(chunks, schema)])


def via_select(conn, selection: Selection, window: Window, schema: pa.Schema) -> pa.Table:
    query, params = _select_raw(selection, window)
    with conn.cursor(binary=True) as cursor:
        rows = cursor.execute(query, params).fetchall()
    return _arrays(rows, schema)


def via_binary_copy(conn, selection: Selection, window: Window, schema: pa.Schema) -> pa.Table:
    query, params = _select_raw(selection, window)
    with conn.cursor() as cursor:
        cursor.execute(sql.SQL("{} LIMIT 0").format(query), params)
        types = [c.type_code for c in cursor.description]
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT binary)").format(query)
        with cursor.copy(statement, params) as copy:
            copy.set_types(types)
            rows = list(copy.rows())
    return _arrays(rows, schema)


def _select_raw(selection: Selection, window: Window) -> tuple[sql.Composed, dict]:
    """The slice's very statement with the time column left a timestamptz, for the decoders
    that type it themselves."""
    query, params = rows_query(selection, window=window)
    ts = sql.Identifier(selection.dataset.time_source)
    formatted = ISO_TIME.format(ts=ts).as_string(None)
    return sql.SQL(query.as_string(None).replace(formatted, ts.as_string(None), 1)), params


def bench_slice(db: Database, site_id: int, repetitions: int, report: dict) -> None:
    selection = day_selection(db.url, site_id)
    start = selection.window.start + timedelta(hours=12)
    window = Window(start, start + timedelta(seconds=30000 / sum(RACKS)))
    db.fresh()
    with contextlib.closing(open_pool(db.url, 1)) as pool:
        schema = arrow_schema(selection, output_types(pool, selection))
    ways = {
        "CSV COPY + pyarrow CSV reader (the API)": via_csv,
        "typed SELECT (binary), psycopg + pa.array": via_select,
        "COPY (FORMAT binary), psycopg + pa.array": via_binary_copy,
    }
    times: dict[str, list[float]] = {label: [] for label in ways}
    tables = {}
    with connect(db.url) as conn:
        for _ in range(repetitions + 1):  # the first round warms up
            for label, way in ways.items():
                with conn.transaction():
                    _session(conn, selection)
                    began = time.perf_counter()
                    tables[label] = way(conn, selection, window, schema)
                    times[label].append(time.perf_counter() - began)
    reference = tables["CSV COPY + pyarrow CSV reader (the API)"]
    for label, table in tables.items():
        assert table.num_rows == reference.num_rows, label
        for name in ("timestamp", "rack_soc", "rack_id"):
            assert table.column(name).equals(reference.column(name)), (label, name)
    print(f"\nOne slice ({reference.num_rows:,} rows, {len(schema)} columns) into an Arrow table:")
    report["slice"] = {"rows": reference.num_rows}
    for label, runs in times.items():
        median = statistics.median(runs[1:])
        print(f"  {label:<46}{median * 1000:8.0f} ms")
        report["slice"][label] = median


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def bench_encoder(report: dict, slices: int = 60) -> None:
    """Memory of the encoders alone (no database): RSS of this process while the same
    30,000-row slice of rack-like CSV (20 measurements, 36 flags, a JSON map) is encoded
    `slices` times, each slice's bytes dropped as the API drops them once sent."""
    chance = random.Random(1)
    fields = [pa.field("timestamp", pa.timestamp("us", tz="Asia/Seoul"))]
    fields += [pa.field(f"m{i}", pa.float64()) for i in range(20)]
    fields += [pa.field(f"flag{i}", pa.int16()) for i in range(36)]
    schema = pa.schema([*fields, pa.field("fault_map", pa.string())])
    lines = []
    for second in range(30000):
        hms = f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        values = [f"{chance.random() * 1000:.1f}" for _ in range(20)]
        values += [str(chance.randint(0, 1)) for _ in range(36)]
        lines.append(f'2023-04-10T{hms}+09:00,{",".join(values)},"{{""module1"": 0}}"\n')
    text = "".join(lines).encode()
    chunks = [text[i : i + 256 * 1024] for i in range(0, len(text), 256 * 1024)]
    print(
        f"\nEncoders alone, {slices} slices of 30,000 rows ({len(text) / 1e6:.1f} MB of CSV each):"
    )
    report["encoder_rss_mib"] = {"before": _rss_mib()}
    for label, parquet in (("Parquet", True), ("Arrow", False)):
        encoder = ColumnarEncoder(schema, parquet=parquet)
        rss = []
        for _ in range(slices):
            encoder.encode(chunks)
            rss.append(_rss_mib())
        encoder.finish()
        print(
            f"  {label:<8} RSS after slice 1: {rss[0]:.0f} MiB, 10: {rss[9]:.0f}, "
            f"{slices}: {rss[-1]:.0f} (max {max(rss):.0f})"
        )
        report["encoder_rss_mib"][label] = rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "which", nargs="?", default="all", choices=("download", "slice", "encoder", "all")
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--site", type=int, help="reuse this filled site of --database-url")
    parser.add_argument("--repetitions", type=int, default=1)
    args = parser.parse_args()
    report: dict = {"machine": machine()}
    if args.which in ("encoder", "all"):
        bench_encoder(report)
    if args.which == "encoder":
        return
    with database(args.database_url) as db:
        with connect(db.url) as conn:
            report["engine"] = engine_version(conn)
            print(f"engine: {report['engine']}\nmachine: {report['machine']}")
            site_id = args.site or scratch_site(conn)
            if not args.site:
                began = time.perf_counter()
                demo = generate(
                    conn,
                    sites=(site_id,),
                    start=DAY,
                    days=1,
                    interval=timedelta(seconds=1),
                    refresh=False,
                )
                print(f"generated {demo.total_rows:,} rows in {time.perf_counter() - began:.0f} s")
        try:
            if args.which in ("slice", "all"):
                bench_slice(db, site_id, max(args.repetitions, 3), report)
            if args.which in ("download", "all"):
                bench_downloads(db, site_id, args.repetitions, report)
        finally:
            if not args.site:
                with connect(db.url) as conn:
                    drop_scratch_site(conn, site_id)
    write_results("columnar", report)


if __name__ == "__main__":
    main()
