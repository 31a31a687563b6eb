"""Read throughput with read replicas: JSON pages served from the primary only, from one and
from two streaming replicas, each against raw SQL on the same databases in the same run.

    .venv/bin/python bench/replica_bench.py --database-url PRIMARY_URL \\
        --read-url REPLICA_1_URL --read-url REPLICA_2_URL [--seconds 15] [--interval 1]

It needs a real primary and its streaming replicas (e.g. made by `pg_basebackup -R`; the embedded
engine has none). It migrates the primary, fills one local day of a scratch site there with the
demo generator (Panli's racks, one row every --interval seconds) and waits until every replica
replayed it. Then, for each layout (the primary alone; 1 replica; 2 replicas), it starts one API
process (uvicorn) with DATABASE_READ_URL set to the layout's replicas and measures CLIENTS
concurrent clients asking for 1000-row JSON pages of 3 fields (a random rack and time); then the
same clients running the page's SELECT through psycopg, round robin over the layout's databases
(raw SQL: no API). It prints requests/s, rows/s and the ratio API / raw SQL per layout, the
engine and the machine, and keeps a JSON report in bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import httpx
import psycopg
from common import (
    api_server,
    bench_database,
    closed_loop,
    describe_setup,
    drop_scratch_site,
    scratch_site,
    write_results,
)
from operating_data_bench import CLIENTS, DAY, RACKS, concurrent_pages, random_page

from api.db import connect
from api.demo import generate

FIELDS = "rack_soc,rack_voltage,rack_current"
PAGE_SQL = (
    "SELECT ts, rack_soc, rack_voltage, rack_current FROM ess.rack "
    "WHERE site_id = %s AND bank_id = %s AND rack_id = %s AND ts >= %s ORDER BY ts LIMIT 1001"
)


def wait_for_replay(primary: str, replicas: list[str], timeout_s: float = 600) -> None:
    with connect(primary) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    for url in replicas:
        with psycopg.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + timeout_s
            while not conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()[0]:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a replica did not replay up to {target}")
                time.sleep(0.5)


def raw_pages(urls: list[str], site_id: int, seconds: float) -> dict:
    """CLIENTS threads running the page's SELECT (random rack and time), each on its own
    connection, the clients spread round robin over `urls`."""

    @contextlib.contextmanager
    def connection(seed: int) -> Iterator[Callable[[], int]]:
        chance = random.Random(seed)
        with psycopg.connect(urls[seed % len(urls)], autocommit=True) as conn:

            def request() -> int:
                bank, rack, moment = random_page(chance)
                found = conn.execute(PAGE_SQL, (site_id, bank, rack, moment)).fetchall()
                return min(len(found), 1000)

            yield request

    return closed_loop(CLIENTS, seconds, connection)


def api_pages(primary: str, replicas: list[str], site_id: int, seconds: float) -> dict:
    env = {"DATABASE_READ_URL": " ".join(replicas)}
    with api_server(primary, env=env) as server:
        health = httpx.get(server.base + "/api/ess/health").json()
        serving = [d["name"] for d in health["databases"] if d["serves_reads"]]
        expected = (
            ["primary"] if not replicas else [f"replica {i + 1}" for i in range(len(replicas))]
        )
        assert serving == expected, health
        concurrent_pages(server, site_id, FIELDS, seconds=2)  # warm-up
        return concurrent_pages(server, site_id, FIELDS, seconds=seconds)


def measure(label: str, run: Callable[[], dict]) -> dict:
    result = run()
    print(
        f"  {label:<28} {result['requests_s']:>8.1f} req/s {result['rows_s']:>10,.0f} rows/s  "
        f"median {result['median_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="the primary")
    parser.add_argument("--read-url", action="append", default=[], help="a streaming replica")
    parser.add_argument("--seconds", type=float, default=15, help="per measurement")
    parser.add_argument("--interval", type=int, default=1, help="seconds between rows")
    args = parser.parse_args()
    report: dict = {"clients": CLIENTS, "page": f"1000 rows, fields {FIELDS}", "layouts": {}}
    with bench_database(args.database_url) as db, connect(db.url) as conn:
        report |= describe_setup(conn)
        site_id = scratch_site(conn, "replicabench", RACKS)
        try:
            began = time.perf_counter()
            demo = generate(
                conn,
                sites=(site_id,),
                start=DAY,
                days=1,
                interval=timedelta(seconds=args.interval),
                refresh=False,
            )
            conn.execute("ANALYZE ess.rack")
            wait_for_replay(db.url, args.read_url)
            print(
                f"{demo.total_rows:,} rows (site {site_id}, {DAY}, one every {args.interval} s) "
                f"on the primary and replayed by {len(args.read_url)} replica(s) in "
                f"{time.perf_counter() - began:.0f} s\n{CLIENTS} clients, 1000-row pages of "
                f"{FIELDS}, {args.seconds:.0f} s each, one API process:",
                flush=True,
            )
            for count in range(len(args.read_url) + 1):
                replicas = args.read_url[:count]
                label = "primary only" if not count else f"{count} replica(s)"
                databases = replicas or [db.url]
                api = measure(
                    f"{label}: API", lambda r=replicas: api_pages(db.url, r, site_id, args.seconds)
                )
                raw = measure(
                    f"{label}: raw SQL", lambda d=databases: raw_pages(d, site_id, args.seconds)
                )
                ratio = api["requests_s"] / raw["requests_s"]
                print(f"  {label}: API / raw SQL {ratio:.2f}", flush=True)
                report["layouts"][label] = {"api": api, "raw_sql": raw, "api_over_raw": ratio}
        finally:
            with contextlib.suppress(psycopg.Error):
                drop_scratch_site(conn, site_id)
    write_results("replica", report)


if __name__ == "__main__":
    main()
