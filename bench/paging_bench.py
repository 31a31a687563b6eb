"""Numbered pages at any depth and JSON page throughput with one and several API processes, each
against the same statements through psycopg on the same engine in the same run:

    .venv/bin/python bench/paging_bench.py [--database-url URL] [--workers 2] [--seconds 10]
        [--repetitions 20] [--interval 1] [--site N]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine (there
`--workers` is refused by `ess serve`, so only one process is measured). It registers a scratch
site of 1 bank x 8 racks with Panli's columns and fills one local day (2023-04-10) at 1 Hz with
the demo generator, refreshed into the continuous aggregates as a load leaves it (about 674,000
rack rows). 1000-row pages of 3 fields:

latency   page 1 and the last page of rack 1, page 1 and page 190 of the bank's racks (one
          client, median and p95 of --repetitions); beside them the engine running the page-1
          statement and the OFFSET statement of the same page (the JSON rows as one value
          through psycopg, as the API reads JSON pages).
req/s     8 clients asking for the same pages as fast as answers come, for --seconds each,
          through 1 API process and through --workers processes; beside them 8 threads running
          the page's statement through psycopg (page 1: the same SQL; deep pages: OFFSET).
          Then the CPU each API request cost the API's processes, the database server (when
          it runs on this machine) and the clients, from /proc.
depths    (--depths: this section alone) the statements of a numbered page at growing depths,
          read by OFFSET and by the seek from the per-minute counts, run alternately on one
          connection, each against page 1: where the seek starts to pay (seek_min_offset).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from common import (
    Server,
    api_server,
    bench_database,
    closed_loop,
    cpu_used,
    demo_day_site,
    describe_setup,
    drop_scratch_site,
    interleaved,
    p95_ms,
    timed,
    write_results,
)

from api.catalog.model import load_catalog
from api.db import connect, transaction_in_zone
from api.operating_data.dataset import operating_dataset
from api.operating_data.execute import page_on
from api.operating_data.parse import Selected
from api.operating_data.plan import PagePlan, Selection, select
from api.operating_data.sqlbuild import json_rows_query, rows_query
from api.params import Window

DAY = date(2023, 4, 10)
SEOUL = ZoneInfo("Asia/Seoul")
RACKS = (8,)
CLIENTS = 8
PAGE_SIZE = 1000
FIELDS = ("rack_soc", "rack_voltage", "rack_current")
BANK_DEEP_PAGE = 190


def selection_of(url: str, site_id: int, fixed: tuple) -> Selection:
    with connect(url) as conn:
        catalog = load_catalog(conn)
    dataset = operating_dataset(catalog, catalog.sites[site_id], "rack")
    start = datetime.combine(DAY, datetime.min.time(), tzinfo=SEOUL)
    columns = tuple(c for c in dataset.columns if c.name in FIELDS)
    return select(
        dataset, Selected(columns, Window(start, start + timedelta(days=1)), SEOUL), fixed
    )


def pages(url: str, site_id: int) -> dict[str, tuple[str, dict, Selection, int]]:
    """label -> (API path, query, selection, page number)."""
    base = f"/api/ess/operating-sites/{site_id}/banks/1/racks/"
    bank = selection_of(url, site_id, (("bank_id", 1),))
    rack = selection_of(url, site_id, (("bank_id", 1), ("rack_id", 1)))
    with connect(url) as conn:
        rack_rows, bank_rows = (
            conn.execute(
                "SELECT count(*) FROM ess.rack WHERE site_id = %s AND bank_id = 1 "
                "AND rack_id = ANY(%s) AND ts >= %s AND ts < %s",
                (site_id, racks, rack.window.start, rack.window.end),
            ).fetchone()[0]
            for racks in ([1], list(range(1, RACKS[0] + 1)))
        )
    last_rack = -(-rack_rows // PAGE_SIZE)
    deep_bank = min(BANK_DEEP_PAGE, -(-bank_rows // PAGE_SIZE))  # a coarser day has fewer
    return {
        "rack, page 1": (base + "1/", {}, rack, 1),
        f"rack, last page ({last_rack})": (base + "1/", {}, rack, last_rack),
        "bank, page 1": (base, {}, bank, 1),
        f"bank, page {deep_bank}": (base, {}, bank, deep_bank),
    }


def query_of(page: int) -> dict:
    return {"date": DAY.isoformat(), "page_size": PAGE_SIZE, "fields": ",".join(FIELDS)} | (
        {"page": page} if page > 1 else {}
    )


def engine_statement(selection: Selection, page: int):
    """What the engine alone does for the page: the page-1 statement, or OFFSET paging."""
    return rows_query(selection, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)


def run_on(conn, statement) -> None:
    """The page's rows as the API reads them for a JSON page: one text of JSON rows."""
    with transaction_in_zone(conn, SEOUL.key):
        conn.execute(*json_rows_query(statement)).fetchone()


def throughput(make: Callable[[], Callable[[], None]], seconds: float) -> dict:
    """CLIENTS threads, each calling its own `make()` in a loop: closed_loop's figures."""

    def session(_: int) -> contextlib.nullcontext[Callable[[], int]]:
        action = make()

        def request() -> int:
            action()
            return 0  # the rows are not counted here

        return contextlib.nullcontext(request)

    return closed_loop(CLIENTS, seconds, session)


def api_getter(server: Server, path: str, page: int) -> Callable[[], Callable[[], None]]:
    def make() -> Callable[[], None]:
        client = httpx.Client(headers=server.headers, timeout=120)

        def get() -> None:
            response = client.get(server.base + path, params=query_of(page))
            assert response.status_code == 200, response.text
            # a light client, as a load generator should be: rows there, not parsed
            assert b'"results":[{' in response.content

        return get

    return make


def engine_runner(url: str, statement, embedded: bool) -> Callable[[], Callable[[], None]]:
    """A connection per client; on the embedded engine one for all (its single session would
    mix the clients' transactions), as the API's pool of one does."""
    shared = connect(url) if embedded else None
    lock = threading.Lock()

    def make() -> Callable[[], None]:
        if shared is None:
            conn = connect(url)
            return lambda: run_on(conn, statement)

        def run() -> None:
            with lock:
                run_on(shared, statement)

        return run

    return make


def bench_latency(url: str, server: Server, targets: dict, repetitions: int, report: dict) -> None:
    """The API's pages first, then the engine's statements: on the embedded engine a request's
    pool reset running beside the bench's own statement (one shared session) can stall both."""
    api: dict[str, list[float]] = {}
    with httpx.Client(headers=server.headers, timeout=120) as client:
        for label, (path, _, _, page) in targets.items():

            def get(path=path, page=page) -> None:
                response = client.get(server.base + path, params=query_of(page))
                assert response.status_code == 200 and response.json()["results"], response.text

            api[label], _ = timed(get, repetitions)
    time.sleep(1)
    engine: dict[str, tuple[list[float], list[float]]] = {}
    with connect(url) as conn:
        for label, (_, _, selection, page) in targets.items():
            engine[label] = (
                timed(lambda s=selection: run_on(conn, engine_statement(s, 1)), repetitions)[0],
                timed(
                    lambda s=selection, n=page: run_on(conn, engine_statement(s, n)), repetitions
                )[0],
            )
    print(f"\nlatency, one client, {PAGE_SIZE}-row pages of 3 fields (median / p95 ms):")
    print(f"{'':<26}{'API':>16}{'engine, page 1':>18}{'engine, OFFSET':>18}{'API/API p1':>12}")
    report["latency_ms"] = {}
    first_page: dict[str, float] = {}
    for label in targets:
        engine_first, engine_offset = engine[label]
        scope = label.split(",")[0]
        first_page.setdefault(scope, statistics.median(api[label]))
        ratio = statistics.median(api[label]) / first_page[scope]
        print(
            f"{label:<26}{_ms(api[label]):>16}{_ms(engine_first):>18}{_ms(engine_offset):>18}"
            f"{ratio:>12.2f}"
        )
        report["latency_ms"][label] = {
            "api_median": statistics.median(api[label]) * 1000,
            "api_p95": p95_ms(api[label]),
            "engine_page1_median": statistics.median(engine_first) * 1000,
            "engine_offset_median": statistics.median(engine_offset) * 1000,
            "api_vs_api_page1": ratio,
        }


def _ms(times: list[float]) -> str:
    return f"{statistics.median(times) * 1000:.1f} / {p95_ms(times):.1f}"


def bench_throughput(
    url: str, targets: dict, workers: list[int], seconds: float, embedded: bool, report: dict
) -> None:
    print(f"\nreq/s, {CLIENTS} clients, for {seconds:g} s each:")
    header = "".join(f"{f'API x{n}':>10}" for n in workers)
    print(f"{'':<26}{header}{'engine':>10}{'best API/engine':>17}")
    report["requests_s"] = {}
    rates: dict[int, dict[str, float]] = {}
    cpu: dict[int, dict[str, dict[str, float]]] = {}  # ms per request, by process kind
    for count in workers:
        rates[count], cpu[count] = {}, {}
        with api_server(url, count) as server:
            for label, (path, _, _, page) in targets.items():
                with cpu_used(server) as used:
                    result = throughput(api_getter(server, path, page), seconds)
                rates[count][label] = result["requests_s"]
                cpu[count][label] = {k: v / result["requests"] * 1000 for k, v in used.items()}
    for label, (_, _, selection, page) in targets.items():
        statement = engine_statement(selection, page)
        engine = throughput(engine_runner(url, statement, embedded), seconds)["requests_s"]
        api = [rates[count][label] for count in workers]
        rates_text = "".join(f"{rate:>10.1f}" for rate in api)
        print(f"{label:<26}{rates_text}{engine:>10.1f}{max(api) / engine:>17.2f}")
        report["requests_s"][label] = {
            **{f"api_{count}_processes": rates[count][label] for count in workers},
            "engine": engine,
        }
    print("\nCPU per API request, ms: API processes / database server / clients")
    print(f"{'':<26}" + "".join(f"{f'API x{n}':>22}" for n in workers))
    report["cpu_ms_per_request"] = {}
    for label in targets:
        shares = [" / ".join(f"{ms:.1f}" for ms in cpu[count][label].values()) for count in workers]
        text = "".join(f"{share:>22}" for share in shares)
        print(f"{label:<26}{text}")
        report["cpu_ms_per_request"][label] = {
            f"api_{count}_processes": cpu[count][label] for count in workers
        }


DEPTHS = (1000, 2000, 3000, 5000, 7000, 10000, 20000, 50000, 100000, 189000)  # offsets, in rows


def bench_depths(url: str, site_id: int, repetitions: int, report: dict) -> None:
    """OFFSET and seek at each depth, alternately (a shared machine loads both alike)."""
    scopes = {
        "rack": selection_of(url, site_id, (("bank_id", 1), ("rack_id", 1))),
        "bank": selection_of(url, site_id, (("bank_id", 1),)),
    }
    print(f"\ndepths, {PAGE_SIZE}-row pages of 3 fields, median ms (ratio to page 1):")
    print(f"{'':<16}{'OFFSET':>18}{'seek':>18}{'seek/OFFSET':>13}")
    report["depths_ms"] = {}
    with connect(url) as conn:

        def page(selection: Selection, offset: int, seeks: bool) -> Callable[[], object]:
            plan = PagePlan(selection, PAGE_SIZE, offset, None, None, seeks)

            def read() -> object:
                with transaction_in_zone(conn, SEOUL.key):
                    return page_on(conn, plan)

            return read

        for scope, selection in scopes.items():
            first = statistics.median(timed(page(selection, 0, False), repetitions)[0])
            print(f"{scope + ', page 1':<16}{first * 1000:>18.1f}")
            for offset in DEPTHS:
                offset_t, seek_t, by_offset, by_seek = interleaved(
                    page(selection, offset, False), page(selection, offset, True), repetitions
                )
                if not by_offset.lines:
                    break  # past the selection's rows
                assert by_offset.lines == by_seek.lines, f"{scope} at {offset}"
                by, seek = statistics.median(offset_t), statistics.median(seek_t)
                print(
                    f"{f'{scope}, +{offset}':<16}{f'{by * 1000:.1f} ({by / first:.2f})':>18}"
                    f"{f'{seek * 1000:.1f} ({seek / first:.2f})':>18}{seek / by:>13.2f}"
                )
                report["depths_ms"][f"{scope} {offset}"] = {
                    "page1": first * 1000,
                    "offset": by * 1000,
                    "seek": seek * 1000,
                }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--site", type=int, default=None, help="reuse this filled site")
    parser.add_argument("--workers", type=int, default=2, help="API processes besides 1")
    parser.add_argument("--seconds", type=float, default=10, help="of each req/s measurement")
    parser.add_argument("--repetitions", type=int, default=20, help="of each latency")
    parser.add_argument("--interval", type=int, default=1, help="seconds between rows")
    parser.add_argument("--depths", action="store_true", help="only seek vs OFFSET by depth")
    args = parser.parse_args()
    report: dict = {}
    with bench_database(args.database_url) as db:
        with connect(db.url) as conn:
            report |= describe_setup(conn)
            site_id = args.site or demo_day_site(
                conn, "pagebench", RACKS, DAY, args.interval, refresh=True
            )
            conn.execute("ANALYZE ess.rack")
        embedded = db.engine is not None
        try:
            db.fresh()
            if args.depths:
                bench_depths(db.url, site_id, args.repetitions, report)
            else:
                targets = pages(db.url, site_id)
                with api_server(db.url) as server:
                    bench_latency(db.url, server, targets, args.repetitions, report)
                workers = [1] if embedded else [1, args.workers]
                bench_throughput(db.url, targets, workers, args.seconds, embedded, report)
        finally:
            if not args.site:
                day = datetime.combine(DAY, datetime.min.time(), tzinfo=SEOUL)
                with connect(db.url) as conn:
                    drop_scratch_site(conn, site_id, refresh=(day, day + timedelta(days=1)))
    write_results("paging", report)


if __name__ == "__main__":
    main()
