"""N concurrent clients for a fixed time over a mix of endpoints, against `ess serve` on loopback.

    .venv/bin/python bench/load_test.py [--clients 50] [--seconds 60] [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory, thrown away at the end. Either way it migrates the database, generates the
demo day of site 2 (idempotent), applies de-identified views with a key of this run, starts
`ess serve` on 127.0.0.1 and a free port, and lets every client send requests back to back (each
picks the next endpoint of the mix at random) until the time is up. It prints, per endpoint:
requests, requests/s, p50/p95/p99 latency and errors (any answer but 200, or no answer within
--timeout). The raw engine is measured in the same run: the page's SQL statement run directly,
one client at a time, and under the same concurrency (--clients connections, or one on the
embedded engine, which serialises every statement), so the API's overhead shows as a ratio.

Bounded: at most 200 clients and 600 s; the server listens on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
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
from common import bench_database, describe_setup, write_results

from api.auth.tokens import SCOPES, mint
from api.db import connect
from api.deid import apply_views
from api.demo import generate
from api.engine import free_port, port_answers

MAX_CLIENTS, MAX_SECONDS = 200, 600
DAY = "2023-04-10"
MIX = {
    "page": f"/api/ess/operating-sites/2/banks/1/racks/1/?date={DAY}&page_size=100",
    "latest rows": f"/api/ess/operating-sites/2/banks/1/racks/latest/?date={DAY}",
    "average": f"/api/ess/operating-sites/2/banks/1/stats/avg-bank-soc/?date={DAY}"
    "&time-bucket-width=1hour",
    "SoS": f"/api/ess/stats/sos/operating-sites/2/banks/1/racks/?date={DAY}"
    "&time-bucket-width=1hour",
    "protection map": f"/api/ess-feature/protectionmap/operating-sites/2/?date={DAY}&page_size=50",
    "de-identified page": f"/api/ess/di/operating-sites/2/banks/1/racks/1/?date={DAY}"
    "&page_size=100",
    "download": f"/api/ess/download/operating-sites/2/rack/?date={DAY}&bank=1&rack=1",
}
# the page's statement, for the raw engine's figures
RAW_PAGE = (
    "SELECT * FROM ess.rack WHERE site_id = 2 AND bank_id = 1 AND rack_id = 1 "
    "AND ts >= %s::timestamptz AND ts < %s::timestamptz + interval '1 day' ORDER BY ts LIMIT 100"
)


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
                response = await http.get(MIX[name])
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


def raw_engine(url: str, clients: int, seconds: float) -> dict[str, float]:
    """The page's statement straight on the database: alone (p50), and from `clients`
    connections at once for `seconds` (statements/s)."""
    with connect(url) as conn:
        alone = []
        for _ in range(50):
            began = time.perf_counter()
            conn.execute(RAW_PAGE, (DAY, DAY)).fetchall()
            alone.append(time.perf_counter() - began)
    done = [0]
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def run() -> None:
        with connect(url) as conn:
            while time.monotonic() < until:
                conn.execute(RAW_PAGE, (DAY, DAY)).fetchall()
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=run) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"p50_ms": statistics.median(alone) * 1000, "per_s": done[0] / seconds}


def serve(url: str, secret: str, deid_key: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ESS_JWT_SECRET": secret,
        "ESS_DEID_KEY": deid_key,
        "ESS_RATE_LIMIT_BURST": "0",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
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
    parser.add_argument("--database-url")
    args = parser.parse_args()
    if not (1 <= args.clients <= MAX_CLIENTS and 0 < args.seconds <= MAX_SECONDS):
        parser.error(f"1-{MAX_CLIENTS} clients, at most {MAX_SECONDS} s")
    secret, deid_key = secrets.token_hex(32), secrets.token_hex(32)
    with bench_database(args.database_url) as db:
        with connect(db.url) as conn:
            print("demo day of site 2 (kept if already stored) ...", flush=True)
            generate(conn, sites=[2], interval=timedelta(seconds=10))
            apply_views(conn, deid_key)
            setup = describe_setup(conn)
        embedded = db.engine is not None
        raw = raw_engine(db.url, 1 if embedded else args.clients, min(10.0, args.seconds))
        server, base = serve(db.url, secret, deid_key)
        try:
            token = mint(secret, list(SCOPES), None, timedelta(hours=2))
            headers = {"Authorization": f"Bearer {token}"}
            asyncio.run(load(base, headers, min(args.clients, 4), 5, args.timeout))  # warm-up
            tallies, elapsed = asyncio.run(
                load(base, headers, args.clients, args.seconds, args.timeout)
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
    report = print_report(tallies, elapsed, args, raw, setup)
    write_results("load_test", report)


def print_report(tallies, elapsed, args, raw, setup) -> dict:
    print(f"\n{args.clients} clients for {args.seconds:g} s; {setup}")
    print(
        f"raw engine, the page's SQL: p50 {raw['p50_ms']:.1f} ms alone, "
        f"{raw['per_s']:.1f} statements/s under load"
    )
    header = f"{'endpoint':<20}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    print(header + "  errors")
    rows = {}
    for name, tally in tallies.items():
        ok = tally.latencies
        row = {
            "requests": len(ok) + sum(tally.errors.values()),
            "per_s": len(ok) / elapsed,
            "p50_ms": percentile(ok, 0.50) * 1000,
            "p95_ms": percentile(ok, 0.95) * 1000,
            "p99_ms": percentile(ok, 0.99) * 1000,
            "errors": tally.errors,
        }
        rows[name] = row
        print(
            f"{name:<20}{row['requests']:>9}{row['per_s']:>8.1f}{row['p50_ms']:>9.0f}"
            f"{row['p95_ms']:>9.0f}{row['p99_ms']:>9.0f}  {sum(tally.errors.values())} "
            f"{tally.errors or ''}"
        )
    every = [v for t in tallies.values() for v in t.latencies]
    errors = sum(sum(t.errors.values()) for t in tallies.values())
    total = len(every) / elapsed
    print(
        f"{'all':<20}{len(every) + errors:>9}{total:>8.1f}{percentile(every, 0.5) * 1000:>9.0f}"
        f"{percentile(every, 0.95) * 1000:>9.0f}{percentile(every, 0.99) * 1000:>9.0f}  {errors}"
    )
    print(
        f"page p50 / raw page statement p50: "
        f"{rows['page']['p50_ms'] / raw['p50_ms']:.1f}x; all requests/s / raw statements/s: "
        f"{total / raw['per_s']:.2f}"
    )
    return {
        "clients": args.clients,
        "seconds": args.seconds,
        "setup": setup,
        "raw_engine": raw,
        "endpoints": rows,
        "errors": errors,
        "requests_per_s": total,
    }


if __name__ == "__main__":
    main()
