"""N concurrent clients for a fixed time over a mix of endpoints, against `ess serve` on loopback,
and the same mix's SQL straight on the database, so the API's overhead shows per endpoint.

    .venv/bin/python bench/load_test.py [--clients 50] [--seconds 60] [--workers N]
                                        [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory, thrown away at the end. Either way it migrates the database, generates the
demo day of site 2 (idempotent) and applies de-identified views with a key of this run. Then:

1. raw engine: the statements each endpoint of the mix runs (bench/load_mix.py, planned by the
   API's own code) are run directly, first one request at a time (p50 "alone", and a check that
   every statement reads rows), then from --clients threads for --seconds, each choosing the
   next endpoint at random like the HTTP clients (own connections on a server; one shared
   connection on the embedded engine, which serialises every statement, as the API's pool does);
2. API: `ess serve --workers N` (default 2 on a server, as docker-compose.yml runs it; 1 on the
   embedded engine, which allows no more) on 127.0.0.1 and a free port, and --clients HTTP
   clients sending requests back to back, each picking the next endpoint at random.

It prints, per endpoint and for all: requests, requests/s and p50/p95/p99 latency of the API and
of the raw engine side by side, the API's errors (any answer but 200, or no answer within
--timeout), the raw p50 alone, and the ratios API p99 / raw p99 and API req/s / raw req/s.

Bounded: at most 200 clients, 600 s and 8 API processes; the server listens on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import secrets
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import psycopg
from common import bench_database, describe_setup, write_results
from load_mix import MIX, RawStatement, raw_mix

from api.auth.tokens import SCOPES, mint
from api.db import connect
from api.deid import apply_views
from api.demo import generate
from api.engine import free_port, port_answers

MAX_CLIENTS, MAX_SECONDS, MAX_WORKERS = 200, 600, 8
ALONE_RUNS = 5  # each endpoint's statements, one request at a time, before the load


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def one_client(
    base: str, headers: dict, until: float, timeout: float, tallies: dict[str, Tally], seed: int
) -> None:
    chooser = random.Random(seed)
    names = list(MIX)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=timeout) as http:
        while time.monotonic() < until:
            name = chooser.choice(names)
            tally = tallies[name]
            sent = time.perf_counter()
            try:
                response = await http.get(MIX[name].url)
            except httpx.HTTPError as exc:
                tally.error(type(exc).__name__)
                continue
            if response.status_code == 200:
                tally.latencies.append(time.perf_counter() - sent)
            else:
                tally.error(str(response.status_code))


async def load(base: str, headers: dict, clients: int, seconds: float, timeout: float):
    tallies = {name: Tally() for name in MIX}
    until = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(one_client(base, headers, until, timeout, tallies, n) for n in range(clients))
    )
    return tallies, time.perf_counter() - started


def run_request(conn: psycopg.Connection, statements: list[RawStatement]) -> int:
    """One request's statements; the fewest rows any of them read."""
    return min(statement.run(conn) for statement in statements)


def raw_alone(url: str, mix: dict[str, list[RawStatement]]) -> dict[str, float]:
    """Each endpoint's statements one request at a time: p50 ms of ALONE_RUNS. Every statement
    must read rows (the demo day is there), else the figures would measure nothing."""
    alone = {}
    with connect(url) as conn:
        for name, statements in mix.items():
            if run_request(conn, statements) == 0:
                raise SystemExit(f"a statement of {name!r} reads no rows: is the demo day stored?")
            times = []
            for _ in range(ALONE_RUNS):
                began = time.perf_counter()
                run_request(conn, statements)
                times.append(time.perf_counter() - began)
            alone[name] = statistics.median(times) * 1000
    return alone


class Turns:
    """One at a time, in the order asked, like the waiters of the API's pool (threading.Lock
    is unfair: the thread releasing it mostly takes it again at once, starving the others)."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.issued = self.serving = 0

    def __enter__(self) -> None:
        with self.changed:
            ticket, self.issued = self.issued, self.issued + 1
            self.changed.wait_for(lambda: self.serving == ticket)

    def __exit__(self, *exc: object) -> None:
        with self.changed:
            self.serving += 1
            self.changed.notify_all()


def raw_load(
    url: str, mix: dict[str, list[RawStatement]], clients: int, seconds: float, shared: bool
) -> tuple[dict[str, Tally], float]:
    """The mix straight on the database: `clients` threads, each choosing endpoints at random
    like the HTTP clients and running their statements back to back. Each thread has its own
    connection, or with `shared` (the embedded engine) all take turns on one, a request at a
    time, as the API's one-connection pool does."""
    tallies = {name: Tally() for name in mix}
    names = list(mix)
    until = time.monotonic() + seconds
    turn = Turns() if shared else None
    one = connect(url) if shared else None

    def client(seed: int) -> None:
        chooser = random.Random(seed)
        with contextlib.ExitStack() as stack:
            conn = one or stack.enter_context(connect(url))
            while time.monotonic() < until:
                name = chooser.choice(names)
                sent = time.perf_counter()
                try:
                    with turn or contextlib.nullcontext():
                        run_request(conn, mix[name])
                except psycopg.Error as exc:
                    tallies[name].error(type(exc).__name__)
                    continue
                tallies[name].latencies.append(time.perf_counter() - sent)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if one is not None:
        one.close()
    return tallies, elapsed


def serve(url: str, secret: str, deid_key: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ESS_JWT_SECRET": secret,
        "ESS_DEID_KEY": deid_key,
        "ESS_RATE_LIMIT_BURST": "0",
    }
    command = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", *command],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not port_answers("127.0.0.1", port):
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("ess serve did not start")
        time.sleep(0.3)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=60, help="per request, seconds")
    parser.add_argument(
        "--workers",
        type=int,
        help="ess serve --workers (default 2 on a server, as in docker-compose.yml; the "
        "embedded engine allows 1)",
    )
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if not (1 <= args.clients <= MAX_CLIENTS and 0 < args.seconds <= MAX_SECONDS):
        parser.error(f"1-{MAX_CLIENTS} clients, at most {MAX_SECONDS} s")
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        parser.error(f"1-{MAX_WORKERS} workers")
    secret, deid_key = secrets.token_hex(32), secrets.token_hex(32)
    with bench_database(args.database_url) as db:
        embedded = db.engine is not None
        if args.workers is None:
            args.workers = 1 if embedded else 2
        elif embedded and args.workers > 1:
            parser.error("the embedded engine runs one API process: --workers 1")
        with connect(db.url) as conn:
            print("demo day of site 2 (kept if already stored) ...", flush=True)
            generate(conn, sites=[2], interval=timedelta(seconds=10))
            apply_views(conn, deid_key)
            setup = describe_setup(conn)
            mix = raw_mix(conn)
        print("raw engine: the mix's statements ...", flush=True)
        alone = raw_alone(db.url, mix)
        raw = raw_load(db.url, mix, args.clients, args.seconds, shared=embedded)
        server, base = serve(db.url, secret, deid_key, args.workers)
        try:
            token = mint(secret, list(SCOPES), None, timedelta(hours=2))
            headers = {"Authorization": f"Bearer {token}"}
            print("API: warm-up, then the mix ...", flush=True)
            asyncio.run(load(base, headers, min(args.clients, 4), 5, args.timeout))
            api = asyncio.run(load(base, headers, args.clients, args.seconds, args.timeout))
        finally:
            server.terminate()
            server.wait(timeout=60)
    report = print_report(api, raw, alone, args, setup)
    write_results("load_test", report)


def figures(tallies: dict[str, Tally], elapsed: float) -> dict[str, dict]:
    """Per endpoint and for all of them: requests, req/s, p50/p95/p99 ms, errors."""

    def of(latencies: list[float], errors: dict[str, int]) -> dict:
        return {
            "requests": len(latencies) + sum(errors.values()),
            "per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p95_ms": percentile(latencies, 0.95) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "errors": errors,
        }

    rows = {name: of(t.latencies, t.errors) for name, t in tallies.items()}
    every: dict[str, int] = {}
    for tally in tallies.values():
        for kind, count in tally.errors.items():
            every[kind] = every.get(kind, 0) + count
    rows["all"] = of([v for t in tallies.values() for v in t.latencies], every)
    return rows


def _side(row: dict) -> str:
    return (
        f"{row['requests']:>7}{row['per_s']:>7.1f}{row['p50_ms']:>7.0f}{row['p95_ms']:>7.0f}"
        f"{row['p99_ms']:>7.0f}"
    )


def print_report(api, raw, alone, args, setup) -> dict:
    api_rows, raw_rows = figures(*api), figures(*raw)
    processes = f"{args.workers} API process{'es' if args.workers > 1 else ''}"
    print(f"\n{args.clients} clients for {args.seconds:g} s, {processes}")
    print(
        "API: HTTP requests to ess serve; raw: the same endpoints' SQL straight on the database "
        "from as many clients (alone: one request at a time); ratios API / raw"
    )
    side = f"{'req':>7}{'req/s':>7}{'p50':>7}{'p95':>7}{'p99':>7}"
    print(f"{'':<19}{'API (ms)':<35}{'errors':>7}  {'raw (ms)':<35}{'alone':>6}  API / raw")
    print(f"{'endpoint':<19}{side}{'':>7}  {side}{'p50':>6}  {'p99':>5}{'req/s':>6}")
    for name, row in api_rows.items():
        raw_row = raw_rows[name]
        errors = sum(row["errors"].values()) + sum(raw_row["errors"].values())
        alone_ms = f"{alone[name]:>6.0f}" if name in alone else f"{'':>6}"
        print(
            f"{name:<19}{_side(row)}{sum(row['errors'].values()):>7}  {_side(raw_row)}{alone_ms}  "
            f"{row['p99_ms'] / raw_row['p99_ms']:>5.1f}{row['per_s'] / raw_row['per_s']:>6.2f}"
            + (f"  errors: API {row['errors']}, raw {raw_row['errors']}" if errors else "")
        )
    return {
        "clients": args.clients,
        "seconds": args.seconds,
        "workers": args.workers,
        "setup": setup,
        "endpoints": api_rows,
        "raw_endpoints": raw_rows,
        "raw_alone_p50_ms": alone,
        "errors": sum(api_rows["all"]["errors"].values()),
        "requests_per_s": api_rows["all"]["per_s"],
    }


if __name__ == "__main__":
    main()
