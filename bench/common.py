"""What every benchmark needs: a migrated database (the given URL, or an embedded engine of its
own in a temporary directory on a free port, thrown away at the end), the engine's version and
the machine, and robust timing."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from api.config import REPO_ROOT
from api.db import connect
from api.engine import EmbeddedEngine
from api.migrate import migrate


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
        yield url


def engine_version(conn) -> str:
    version = conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
    timescale = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()[0]
    return f"{version}, TimescaleDB {timescale}"


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
