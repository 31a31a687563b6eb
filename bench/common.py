"""What every benchmark needs: a migrated database (the given URL, or an embedded engine of its
own in a temporary directory on a free port, thrown away at the end, restartable), a scratch
site, the engine's version and the machine, and robust timing (medians, p95, interleaving)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

from api.auth.tokens import SCOPE_RAW, mint
from api.config import REPO_ROOT
from api.db import connect
from api.demo import generate, install_demo
from api.engine import EmbeddedEngine, free_port, is_embedded, throwaway_engine
from api.migrate import migrate
from api.refresh import refresh_aggregates

SCRATCH_SITES_FROM = 9000  # far from the reference sites (1-3) and the tests' sites


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


@dataclass
class BenchDatabase:
    url: str
    engine: EmbeddedEngine | None  # started by this run, None for a given URL

    def fresh(self) -> None:
        """Restart this run's embedded engine (same data) before a measurement: WebAssembly
        memory never shrinks, so after a large COPY the engine keeps gigabytes and gets slower
        with every statement. A given server is left alone."""
        if self.engine is not None:
            self.engine.stop()
            self.engine.start()


@contextlib.contextmanager
def bench_database(url: str | None) -> Iterator[BenchDatabase]:
    """A migrated database: `url` (or ESS_BENCH_DATABASE_URL), else a fresh embedded engine."""
    url = url or os.environ.get("ESS_BENCH_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        engine = None
        if url is None:
            print("starting an embedded engine for this run ...", flush=True)
            engine = stack.enter_context(throwaway_engine("ess-bench-"))
            url = engine.url
        with connect(url) as conn:
            migrate(conn, REPO_ROOT / "sql")
            install_demo(conn, REPO_ROOT / "sql")  # a development database, as `ess run` makes
        yield BenchDatabase(url, engine)


# -- the API as a real server: `ess serve` in its own process(es)

SECRET = secrets.token_urlsafe(32)  # the JWT secret of this run


@dataclass
class Server:
    base: str
    pid: int  # the serving process (the supervisor with several workers)
    headers: dict[str, str]
    peak_kib: int = 0
    samples: list[int] = field(default_factory=list)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def api_server(url: str, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`ess serve --workers N` against `url` with `env` added, without rate limit, with a
    raw-scope token."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ESS_JWT_SECRET": SECRET,
        "ESS_RATE_LIMIT_BURST": "0",
        "ESS_SIGNING_KEY": SECRET,
        **(env or {}),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,  # the access log
        stderr=subprocess.DEVNULL,  # uvicorn's log of every worker
    )
    token = mint(SECRET, [SCOPE_RAW], None, timedelta(hours=3), subject="bench")
    server = Server(f"http://127.0.0.1:{port}", process.pid, {"Authorization": f"Bearer {token}"})
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(server.base + "/api/ess/operating-sites/").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def scratch_site(conn, label: str, racks: Sequence[int], template: int = 2) -> int:
    """A new site with the columns of `template` and `racks` racks per bank."""
    site_id = conn.execute(
        "SELECT greatest(coalesce(max(site_id), 0) + 1, %s) FROM ess.site", (SCRATCH_SITES_FROM,)
    ).fetchone()[0]
    conn.execute(
        "SELECT ess.add_site_like(%s::smallint, %s, %s, %s::smallint, %s::smallint[])",
        (site_id, f"{label}{site_id}", f"{label} {site_id}", template, list(racks)),
    )
    return site_id


def demo_day_site(
    conn, label: str, racks: Sequence[int], day: date, interval_s: int, refresh: bool
) -> int:
    """A new scratch site filled with one local day by the demo generator (one row every
    `interval_s` seconds per series), refreshed into the continuous aggregates if asked."""
    site_id = scratch_site(conn, label, racks)
    began = time.perf_counter()
    demo = generate(
        conn,
        sites=(site_id,),
        start=day,
        days=1,
        interval=timedelta(seconds=interval_s),
        refresh=refresh,
    )
    print(
        f"generated {demo.total_rows:,} rows (site {site_id}, {day}, one every {interval_s} s"
        f"{', refreshed' if refresh else ''}) in {time.perf_counter() - began:.0f} s",
        flush=True,
    )
    return site_id


def drop_scratch_site(conn, site_id: int, refresh: tuple[datetime, datetime] | None = None) -> None:
    """The site's rows, then (over the `refresh` window) its buckets of the continuous
    aggregates, then the site itself."""
    for table in ("rack", "bank", "pcs", "etc", "demo_anomaly"):
        conn.execute(f"DELETE FROM ess.{table} WHERE site_id = %s", (site_id,))
    if refresh is not None:
        refresh_aggregates(conn, *refresh)
    for table in ("site_column", "site_bank", "site"):
        conn.execute(f"DELETE FROM ess.{table} WHERE site_id = %s", (site_id,))


def engine_version(conn) -> str:
    version = conn.execute("SELECT version()").fetchone()[0]
    timescale = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()[0]
    kind = "embedded PGlite, WebAssembly" if is_embedded(version) else "server"
    return f"{version.split(' on ')[0]} ({kind}), TimescaleDB {timescale}"


def describe_setup(conn) -> dict[str, str]:
    """Print and return the engine and the machine every figure was measured on."""
    setup = {"engine": engine_version(conn), "machine": machine()}
    print(f"engine: {setup['engine']}\nmachine: {setup['machine']}", flush=True)
    return setup


def timed(action: Callable[[], object], repetitions: int) -> tuple[list[float], object]:
    """Seconds of each repetition after one warm-up run, and the last result."""
    result = action()
    times = []
    for _ in range(repetitions):
        began = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - began)
    return times, result


def median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000


def p95_ms(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def closed_loop(
    clients: int,
    seconds: float,
    session: Callable[[int], AbstractContextManager[Callable[[], int]]],
) -> dict:
    """`clients` threads for `seconds`: thread i opens `session(i)` (a client or a connection
    of its own) and calls the request it yields as fast as answers come; each call returns the
    rows it got. Requests and rows per second, median and p95 latency."""
    deadline = time.monotonic() + seconds
    times: list[float] = []
    rows: list[int] = []
    lock = threading.Lock()

    def client_loop(index: int) -> None:
        with session(index) as request:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                count = request()
                elapsed = time.perf_counter() - began
                with lock:
                    times.append(elapsed)
                    rows.append(count)

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {
        "requests": len(times),
        "requests_s": len(times) / wall,
        "rows_s": sum(rows) / wall,
        "median_ms": median_ms(times),
        "p95_ms": p95_ms(times),
    }


# -- where the CPU goes: the API's processes, the local database server's, this client's


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the workers of `ess serve --workers N`)."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def database_pids() -> list[int]:
    """The processes of a database server on this machine: PostgreSQL's, or the embedded
    engine's (its Node launcher); none when the database runs elsewhere."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (
                (entry / "comm").read_text().strip() == "postgres"
                or b"launcher.mjs" in (entry / "cmdline").read_bytes()
            ):
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    """User and system CPU seconds each of these processes has used (gone ones are left out)."""
    used = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


@contextlib.contextmanager
def cpu_used(server: Server) -> Iterator[dict[str, float]]:
    """CPU seconds used meanwhile by the API's processes, the local database's (including
    the server processes of connections opened meanwhile) and this process (the clients), in
    the dict yielded, filled at the end."""
    kinds = {"api": lambda: process_tree(server.pid), "database": database_pids}
    before = {kind: cpu_seconds(pids()) for kind, pids in kinds.items()}
    client_before = sum(os.times()[:2])
    used: dict[str, float] = {}
    yield used
    for kind, pids in kinds.items():
        after = cpu_seconds(pids())
        used[kind] = sum(seconds - before[kind].get(pid, 0) for pid, seconds in after.items())
    used["client"] = sum(os.times()[:2]) - client_before


def interleaved(
    first: Callable[[], object], second: Callable[[], object], repetitions: int
) -> tuple[list[float], list[float], object, object]:
    """Seconds of each repetition of two actions run alternately (after one warm-up each), so
    load from elsewhere on a shared machine hits both alike; and their last results."""
    times: tuple[list[float], list[float]] = ([], [])
    results = [first(), second()]
    for _ in range(repetitions):
        for i, action in enumerate((first, second)):
            began = time.perf_counter()
            results[i] = action()
            times[i].append(time.perf_counter() - began)
    return times[0], times[1], results[0], results[1]


RESULTS = REPO_ROOT / "bench" / "results"


def write_results(name: str, report: dict) -> Path:
    """Keep a run's report as bench/results/<name>-<time>.json (ignored by git)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"\nresults: {out}")
    return out
