"""What every benchmark needs: a migrated database (the given URL, or an embedded engine of its
own in a temporary directory on a free port, thrown away at the end), a scratch site, the
engine's version and the machine, and robust timing."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

from api.config import REPO_ROOT
from api.db import connect
from api.demo import install_demo
from api.engine import EmbeddedEngine, is_embedded
from api.migrate import migrate
from api.refresh import refresh_aggregates

SCRATCH_SITES_FROM = 9000  # far from the reference sites (1-3) and the tests' sites


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


@contextlib.contextmanager
def bench_database(url: str | None) -> Iterator[str]:
    """A migrated database URL: `url` (or ESS_BENCH_DATABASE_URL), else a fresh embedded engine."""
    url = url or os.environ.get("ESS_BENCH_DATABASE_URL")
    with contextlib.ExitStack() as stack:
        if url is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ess-bench-"))
            engine = EmbeddedEngine(Path(tmp) / "engine", port=free_port())
            print("starting an embedded engine for this run ...", flush=True)
            engine.start()
            stack.callback(engine.stop)
            url = engine.url
        with connect(url) as conn:
            migrate(conn, REPO_ROOT / "sql")
            install_demo(conn, REPO_ROOT / "sql")  # a development database, as `ess run` makes
        yield url


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
