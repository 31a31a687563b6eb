"""Operating-data API: CSV download throughput against the raw engine, the API process's memory
while streaming, and JSON page latency and throughput. One command, its own data:

    .venv/bin/python bench/operating_data_bench.py [csv|memory|json|no_page|all]
        [--database-url URL] [--repetitions 2] [--interval 1]
        (--interval 10 --repetitions 1: a quick small run)

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory and throws it away at the end, restarting it before every measurement
(WebAssembly memory never shrinks: after a large COPY the engine stays gigabytes big and slower).
It registers a scratch site with Panli's columns and topology (bank 1: 9 racks, bank 2: 8
racks) and fills one local day (2023-04-10) at 1 Hz with the demo generator (`ess demo`'s SQL
functions, about 2.5 % of the seconds missing): 1,430,822 rack rows. It then starts the API as a
real server (uvicorn, 127.0.0.1, its own process, a JWT secret of this run) and measures with an
HTTP client that reads every byte:

csv     GET /api/ess/download/operating-sites/{site}/rack/?date=... (the whole day, all racks)
        against `COPY (the same statement) TO STDOUT` through psycopg on the same engine, as one
        COPY and as the API's slices; both outputs must be byte-identical. Then the same
        download gzip-compressed (level 1), and zlib levels 1, 6 and 9 on 64 MB of the CSV.
memory  peak RSS of the API process while streaming one rack for an hour, all racks for three
        hours, then the whole day.
json    one rack's day, 100 rows a page: page 1, page 300 (or the last full page of a coarser
        day) through its cursor and by number (OFFSET), each against the same statement on the
        engine; then requests per second for 1000-row pages (3 fields, and every field) from 4
        concurrent clients.
no_page GET /api/ess/operating-sites/{site}/banks/1/racks/?date=...&no_page (bank 1's day as
        one JSON list) against one COPY of the same rows on the engine, the CSV download of the
        same window, and walking its 10,000-row pages by their next links; with the API
        process's peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import statistics
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from common import (
    BenchDatabase,
    Server,
    api_server,
    bench_database,
    closed_loop,
    demo_day_site,
    describe_setup,
    drop_scratch_site,
    p95_ms,
    timed,
    write_results,
)

from api.catalog.model import load_catalog
from api.db import connect, open_pool, transaction_in_zone
from api.operating_data.cursor import AFTER, Cursor, Position
from api.operating_data.dataset import operating_dataset
from api.operating_data.execute import SLICE_WORK_MEM, stored_window
from api.operating_data.parse import Selected
from api.operating_data.plan import Selection, plan_slices, select
from api.operating_data.settings import OperatingDataSettings
from api.operating_data.sqlbuild import copy_statement, json_rows_query, rows_query
from api.params import Window

DAY = date(2023, 4, 10)
SEOUL = ZoneInfo("Asia/Seoul")
RACKS = (9, 8)
CLIENTS = 4
DEEP_PAGE = 300


# -- the API as a real server (bench/common.py), its CPU and memory


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (0 if unknown)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def engine_pid(url: str) -> int | None:
    """The embedded engine's node process serving `url`, if it runs on this machine."""
    port = httpx.URL(url.replace("postgresql://", "http://")).port
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().split(b"\0")
            if b"launcher.mjs" in b" ".join(args) and str(port).encode() in args:
                return int(cmdline.parent.name)
    return None


@contextlib.contextmanager
def peak_rss(server: Server) -> Iterator[dict]:
    """Sample the server's RSS every 10 ms while the block runs."""
    result = {"before_mib": server.rss_kib() / 1024}
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kib())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["peak_mib"] = peak[0] / 1024


# -- reading: the API over HTTP, the engine over psycopg


@dataclass
class Read:
    seconds: float
    wire_bytes: int
    csv_bytes: int
    rows: int
    digest: str
    sample: bytes = b""

    def mb_s(self) -> float:
        return self.csv_bytes / self.seconds / 1e6

    def rows_s(self) -> float:
        return self.rows / self.seconds


class Reader:
    """Counts bytes and rows, hashes the CSV and keeps its first `keep` bytes."""

    def __init__(self, keep: int = 0) -> None:
        self.digest = hashlib.sha256()
        self.csv_bytes = self.newlines = 0
        self.keep = keep
        self.sample = bytearray()

    def take(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.csv_bytes += len(chunk)
        self.newlines += chunk.count(b"\n")
        if len(self.sample) < self.keep:
            self.sample += chunk[: self.keep - len(self.sample)]

    def result(self, seconds: float, wire_bytes: int | None = None) -> Read:
        wire = self.csv_bytes if wire_bytes is None else wire_bytes
        rows = self.newlines - 1  # the header
        return Read(
            seconds, wire, self.csv_bytes, rows, self.digest.hexdigest(), bytes(self.sample)
        )


def download_over_http(server: Server, path: str, params: dict, gzip: bool, keep: int = 0) -> Read:
    reader = Reader(keep)
    headers = {**server.headers, "Accept-Encoding": "gzip" if gzip else "identity"}
    decompress = zlib.decompressobj(31)
    wire = 0
    began = time.perf_counter()
    with httpx.stream("GET", server.base + path, params=params, headers=headers, timeout=600) as r:
        assert r.status_code == 200, r.read()
        assert (r.headers.get("content-encoding") == "gzip") == gzip
        for chunk in r.iter_raw():
            wire += len(chunk)
            reader.take(decompress.decompress(chunk) if gzip else chunk)
    return reader.result(time.perf_counter() - began, wire)


def copy_on_engine(url: str, selection: Selection, windows: list[Window]) -> Read:
    """The API's statement as COPY ... TO STDOUT through psycopg, one COPY per window (with the
    API's work_mem when there are several, as the API runs its slices)."""
    reader = Reader()
    with connect(url) as conn:
        began = time.perf_counter()
        for index, window in enumerate(windows):
            query, params = rows_query(selection, window=window)
            with conn.transaction():
                conn.execute("SELECT set_config('TimeZone', %s, true)", (selection.tz,))
                if len(windows) > 1:
                    conn.execute("SELECT set_config('work_mem', %s, true)", (SLICE_WORK_MEM,))
                with conn.cursor().copy(copy_statement(query, index == 0), params) as copy:
                    for block in copy:
                        reader.take(bytes(block))
        return reader.result(time.perf_counter() - began)


def day_selection(url: str, site_id: int, fixed=(), window: Window | None = None) -> Selection:
    with connect(url) as conn:
        catalog = load_catalog(conn)
    dataset = operating_dataset(catalog, catalog.sites[site_id], "rack")
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=SEOUL)
    window = window or Window(start, start + timedelta(days=1))
    return select(dataset, Selected(dataset.columns, window, SEOUL), fixed)


# -- the three benchmarks


def bench_csv(db: BenchDatabase, site_id: int, repetitions: int, report: dict) -> None:
    url = db.url
    selection = day_selection(url, site_id)
    path = f"/api/ess/download/operating-sites/{site_id}/rack/"
    params = {"date": DAY.isoformat()}
    slice_rows = OperatingDataSettings.from_env().download_slice_rows
    with contextlib.closing(open_pool(url, 1)) as pool:
        stored = stored_window(pool, selection)
    slices = plan_slices(stored, selection.series_count, slice_rows)
    print(f"\nCSV: one day of all {sum(RACKS)} racks, {len(slices)} slices of {slice_rows} rows")
    # label -> (runs through the API, measurement)
    variants: dict[str, tuple[bool, Callable[[Server | None], Read]]] = {
        "COPY TO STDOUT, one statement (engine)": (
            False,
            lambda _: copy_on_engine(url, selection, [selection.window]),
        ),
        "API download, identity": (
            True,
            lambda server: download_over_http(
                server, path, params, gzip=False, keep=64 * 1024 * 1024
            ),
        ),
        "COPY TO STDOUT, the API's slices (engine)": (
            False,
            lambda _: copy_on_engine(url, selection, slices),
        ),
        "API download, gzip level 1": (
            True,
            lambda server: download_over_http(server, path, params, gzip=True),
        ),
    }
    reads: dict[str, list[Read]] = {label: [] for label in variants}
    cpu: dict[str, list[tuple[float, float]]] = {label: [] for label in variants}
    order = list(variants)
    for _ in range(repetitions):
        # interleaved, every other round in reverse, so that load from elsewhere on the
        # machine hits every variant alike; each on a fresh engine (see BenchDatabase.fresh)
        for label in order:
            through_api, measure = variants[label]
            db.fresh()
            with api_server(url) if through_api else contextlib.nullcontext() as server:
                node, api = engine_pid(url), server.pid if server else None
                before = cpu_seconds(api), cpu_seconds(node)
                reads[label].append(measure(server))
                after = cpu_seconds(api), cpu_seconds(node)
            cpu[label].append((after[0] - before[0], after[1] - before[1]))
        order.reverse()
    digests = {r.digest for rs in reads.values() for r in rs}
    assert len(digests) == 1, "the outputs differ"

    def best(label: str) -> Read:
        return min(reads[label], key=lambda r: r.seconds)

    baseline = best("COPY TO STDOUT, one statement (engine)")
    print(f"best of {repetitions}; CPU seconds of the API process and of the engine (median)")
    print(
        f"{'':<44}{'s':>8}{'MB/s':>8}{'rows/s':>10}{'wire MB':>9}{'vs COPY':>9}"
        f"{'API cpu':>9}{'engine':>8}"
    )
    report["csv"] = {}
    for label in variants:
        read = best(label)
        api_cpu = statistics.median(c[0] for c in cpu[label]) if label.startswith("API") else 0
        engine_cpu = statistics.median(c[1] for c in cpu[label])
        ratio = read.mb_s() / baseline.mb_s()
        print(
            f"{label:<44}{read.seconds:>8.1f}{read.mb_s():>8.1f}{read.rows_s():>10,.0f}"
            f"{read.wire_bytes / 1e6:>9.1f}{ratio:>9.2f}{api_cpu:>9.1f}{engine_cpu:>8.1f}"
        )
        report["csv"][label] = {
            "seconds": read.seconds,
            "mb_s": read.mb_s(),
            "rows_s": read.rows_s(),
            "rows": read.rows,
            "csv_mb": read.csv_bytes / 1e6,
            "wire_mb": read.wire_bytes / 1e6,
            "ratio_vs_one_copy": ratio,
            "api_cpu_s": api_cpu,
            "engine_cpu_s": engine_cpu,
            "all_seconds": [r.seconds for r in reads[label]],
        }
    print(f"{baseline.rows:,} rows, {baseline.csv_bytes / 1e6:.1f} MB of CSV; all byte-identical")
    print(
        "seconds of every round:", {k: [round(r.seconds, 1) for r in v] for k, v in reads.items()}
    )
    sample = best("API download, identity").sample
    print(f"\ngzip on {len(sample) / 1e6:.0f} MB of this CSV, one core of this machine:")
    report["compression"] = {}
    for level in (1, 6, 9):
        began = time.perf_counter()
        size = len(zlib.compress(sample, level, wbits=31))
        seconds = time.perf_counter() - began
        ratio = len(sample) / size
        print(f"  level {level}: {len(sample) / seconds / 1e6:7.1f} MB/s in, ratio {ratio:4.1f}x")
        report["compression"][f"gzip-{level}"] = {
            "mb_s": len(sample) / seconds / 1e6,
            "ratio": ratio,
        }


def bench_memory(db: BenchDatabase, site_id: int, report: dict) -> None:
    """Peak RSS of a fresh API process for downloads of growing size: it must level off at
    about two slices, whatever the size of the download."""
    path = f"/api/ess/download/operating-sites/{site_id}/rack/"
    downloads = {
        "one rack, 1 hour": {
            "start-time": f"{DAY}T12:00:00",
            "end-time": f"{DAY}T13:00:00",
            "bank": 1,
            "rack": 1,
        },
        "17 racks, 3 hours": {"start-time": f"{DAY}T12:00:00", "end-time": f"{DAY}T15:00:00"},
        "17 racks, 1 day": {"date": DAY.isoformat()},
    }
    print("\nRSS of the API process while streaming (sampled every 10 ms):")
    report["memory"] = {}
    db.fresh()
    with api_server(db.url) as server:  # a fresh process: nothing cached from other runs
        for label, params in downloads.items():
            with peak_rss(server) as rss:
                read = download_over_http(server, path, params, gzip=False)
            print(
                f"  {label:<18} {read.csv_bytes / 1e6:8.1f} MB of CSV: "
                f"before {rss['before_mib']:.0f} MiB, peak {rss['peak_mib']:.0f} MiB"
            )
            report["memory"][label] = {**rss, "csv_mb": read.csv_bytes / 1e6}


def json_list_over_http(server: Server, path: str, params: dict) -> tuple[float, int, int]:
    """Seconds, bytes and rows of a no_page list read as it streams (rows: the row objects'
    first key, counted across chunk boundaries)."""
    key, tail, size, rows = b'{"timestamp":', b"", 0, 0
    began = time.perf_counter()
    headers = {**server.headers, "Accept-Encoding": "identity"}
    with httpx.stream("GET", server.base + path, params=params, headers=headers, timeout=600) as r:
        assert r.status_code == 200, r.read()
        for chunk in r.iter_raw():
            size += len(chunk)
            data = tail + chunk
            rows += data.count(key)
            tail = data[-(len(key) - 1) :]
    return time.perf_counter() - began, size, rows


def pages_over_http(server: Server, path: str, params: dict) -> tuple[float, int, int]:
    """Seconds, bytes and rows of every 10,000-row page, following the next links."""
    size = rows = 0
    began = time.perf_counter()
    with httpx.Client(headers=server.headers, timeout=600) as client:
        target: str | None = server.base + path
        query: dict | None = {**params, "page_size": 10000}
        while target:
            response = client.get(target, params=query)
            assert response.status_code == 200, response.text
            page = response.json()
            size, rows = size + len(response.content), rows + len(page["results"])
            target, query = page["next"], None
    return time.perf_counter() - began, size, rows


def bench_no_page(db: BenchDatabase, site_id: int, report: dict) -> None:
    selection = day_selection(db.url, site_id, fixed=(("bank_id", 1),))
    params = {"date": DAY.isoformat()}
    lists = f"/api/ess/operating-sites/{site_id}/banks/1/racks/"
    download = f"/api/ess/download/operating-sites/{site_id}/rack/"

    def csv_download(server: Server) -> tuple[float, int, int]:
        read = download_over_http(server, download, {**params, "bank": 1}, gzip=False)
        return read.seconds, read.csv_bytes, read.rows

    variants: dict[str, Callable[[Server], tuple[float, int, int]]] = {
        "API no_page JSON list": lambda server: json_list_over_http(
            server, lists, {**params, "no_page": ""}
        ),
        "API CSV download": csv_download,
        "API JSON pages of 10,000 by next links": lambda server: pages_over_http(
            server, lists, params
        ),
    }
    db.fresh()
    engine = copy_on_engine(db.url, selection, [selection.window])
    print(f"\nno_page: bank 1's day, {engine.rows:,} rows; one COPY: {engine.seconds:.1f} s")
    print(f"{'':<42}{'s':>8}{'MB':>8}{'rows/s':>10}{'vs COPY':>9}{'peak RSS':>10}")
    report["no_page"] = {"engine_copy_s": engine.seconds, "rows": engine.rows}
    for label, measure in variants.items():
        db.fresh()
        with api_server(db.url) as server, peak_rss(server) as rss:
            seconds, size, rows = measure(server)
        assert rows == engine.rows, (label, rows, engine.rows)
        ratio = engine.seconds / seconds
        print(
            f"{label:<42}{seconds:>8.1f}{size / 1e6:>8.1f}{rows / seconds:>10,.0f}"
            f"{ratio:>9.2f}{rss['peak_mib']:>7.0f} MiB"
        )
        report["no_page"][label] = {"seconds": seconds, "mb": size / 1e6, "ratio": ratio, **rss}


def ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:8.1f}{p95_ms(times):8.1f}"


def bench_json(url: str, server: Server, site_id: int, report: dict) -> None:
    path = f"{server.base}/api/ess/operating-sites/{site_id}/banks/1/racks/1/"
    params = {"date": DAY.isoformat(), "page_size": 100}
    repetitions = 30
    with httpx.Client(headers=server.headers, timeout=60) as client:

        def get(target: str, query: dict | None = None) -> dict:
            response = client.get(target, params=query)
            assert response.status_code == 200, response.text
            return response.json()

        # page DEEP_PAGE, or the last full page of a coarser day (--interval)
        deep = min(DEEP_PAGE, get(path, {**params, "count": "exact"})["count"] // 100)
        first_url = str(client.build_request("GET", path, params=params).url)
        deep_url = first_url
        began = time.perf_counter()
        for _ in range(deep - 1):
            deep_url = get(deep_url)["next"]
        walk = (time.perf_counter() - began) / max(deep - 1, 1)
        deep_rows = get(deep_url)["results"]
        assert get(path, {**params, "page": deep})["results"] == deep_rows

        # the engine alone: the same statements through psycopg (JSON rows, as a JSON page)
        selection = day_selection(url, site_id, (("bank_id", 1), ("rack_id", 1)))
        just_before = datetime.fromisoformat(deep_rows[0]["timestamp"]) - timedelta(microseconds=1)
        cursor_label, offset_label = f"page {deep}, cursor", f"page {deep}, page={deep} (OFFSET)"
        statements = {
            "page 1": rows_query(selection, limit=101),
            cursor_label: rows_query(
                selection, cursor=Cursor(AFTER, Position(just_before)), limit=101
            ),
            offset_label: rows_query(selection, limit=101, offset=(deep - 1) * 100),
        }
        engine_times = {}
        with connect(url) as conn:

            def run(statement) -> None:
                with transaction_in_zone(conn, SEOUL.key):
                    conn.execute(*json_rows_query(statement)).fetchone()

            for label, statement in statements.items():
                engine_times[label], _ = timed(lambda s=statement: run(s), repetitions)
        api_times = {
            "page 1": timed(lambda: get(first_url), repetitions)[0],
            cursor_label: timed(lambda: get(deep_url), repetitions)[0],
            offset_label: timed(lambda: get(path, {**params, "page": deep}), repetitions)[0],
        }
    print(f"\nJSON, one rack's day, 100 rows a page (median and p95 of {repetitions}, ms):")
    print(f"{'':<30}{'API':>16}{'engine':>16}{'API/engine':>12}")
    report["json_latency_ms"] = {}
    for label in statements:
        api_median = statistics.median(api_times[label])
        engine_median = statistics.median(engine_times[label])
        print(
            f"{label:<30}{ms(api_times[label])}{ms(engine_times[label])}"
            f"{api_median / engine_median:>12.2f}"
        )
        report["json_latency_ms"][label] = {
            "api_median": api_median * 1000,
            "engine_median": engine_median * 1000,
        }
    print(f"walking pages 2..{deep} by their next links: {walk * 1000:.1f} ms a page on average")
    report["json_latency_ms"]["walk_per_page"] = walk * 1000

    report["json_throughput"] = {}
    for label, fields in (("3 fields", "rack_soc,rack_voltage,rack_current"), ("all fields", None)):
        result = concurrent_pages(server, site_id, fields, seconds=15)
        report["json_throughput"][label] = result
        print(
            f"1000-row pages, {label}, {CLIENTS} clients: {result['requests_s']:.1f} req/s, "
            f"{result['rows_s']:,.0f} rows/s, median {result['median_ms']:.0f} ms, "
            f"p95 {result['p95_ms']:.0f} ms"
        )


def random_page(chance: random.Random) -> tuple[int, int, datetime]:
    """A random rack of the bench site and a random start time of its day, leaving an hour."""
    bank = chance.choice((1, 2))
    rack = chance.randint(1, RACKS[bank - 1])
    day_start = datetime.combine(DAY, datetime.min.time(), tzinfo=SEOUL)
    return bank, rack, day_start + timedelta(seconds=chance.randrange(0, 86400 - 3600))


def concurrent_pages(server: Server, site_id: int, fields: str | None, seconds: float) -> dict:
    """CLIENTS threads, each asking for 1000-row pages of a random rack at a random time of the
    day, as fast as answers come, for `seconds`."""

    @contextlib.contextmanager
    def api_client(seed: int) -> Iterator[Callable[[], int]]:
        chance = random.Random(seed)
        with httpx.Client(headers=server.headers, timeout=60) as client:

            def request() -> int:
                bank, rack, moment = random_page(chance)
                query = {"start-time": moment.isoformat(), "page_size": 1000}
                if fields:
                    query["fields"] = fields
                url = f"{server.base}/api/ess/operating-sites/{site_id}/banks/{bank}/racks/{rack}/"
                response = client.get(url, params=query)
                assert response.status_code == 200, response.text
                return len(response.json()["results"])

            yield request

    return closed_loop(CLIENTS, seconds, api_client)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "which", nargs="?", default="all", choices=("csv", "memory", "json", "no_page", "all")
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--site",
        type=int,
        default=None,
        help="reuse this site of --database-url, filled earlier (kept afterwards)",
    )
    parser.add_argument(
        "--repetitions", type=int, default=2, help="rounds of the CSV variants (interleaved)"
    )
    parser.add_argument(
        "--interval", type=int, default=1, help="seconds between generated rows (default 1 Hz)"
    )
    args = parser.parse_args()
    report: dict = {}
    with bench_database(args.database_url) as db:
        with connect(db.url) as conn:
            report |= describe_setup(conn)
            site_id = args.site or demo_day_site(
                conn, "odbench", RACKS, DAY, args.interval, refresh=False
            )
        try:
            if args.which in ("csv", "all"):
                bench_csv(db, site_id, args.repetitions, report)
            if args.which in ("json", "all"):
                db.fresh()
                with api_server(db.url) as server:
                    bench_json(db.url, server, site_id, report)
            if args.which in ("memory", "all"):
                bench_memory(db, site_id, report)
            if args.which in ("no_page", "all"):
                bench_no_page(db, site_id, report)
        finally:
            if not args.site:
                with connect(db.url) as conn:
                    drop_scratch_site(conn, site_id)
    write_results("operating_data", report)


if __name__ == "__main__":
    main()
