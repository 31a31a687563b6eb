"""The embedded TimescaleDB engine (PGlite + TimescaleDB, see engine/launcher.mjs).

Started only when no DATABASE_URL is given. If an engine already answers on the port (for example
the one `make run` started), it is reused instead of started twice on the same data directory.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from api.config import REPO_ROOT

ENGINE_DIR = REPO_ROOT / "engine"
READY_TIMEOUT_S = 120


class EngineError(RuntimeError):
    pass


def port_answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for the engine or server of a test or benchmark run)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_installed() -> None:
    """npm ci the pinned engine packages once (node_modules is not in git)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise EngineError(
            "Node.js 20+ and npm are needed for the embedded TimescaleDB engine. Install them, "
            "or set DATABASE_URL to a TimescaleDB server."
        )
    marker = ENGINE_DIR / "node_modules" / ".package-lock.json"
    if (
        marker.exists()
        and marker.stat().st_mtime >= (ENGINE_DIR / "package-lock.json").stat().st_mtime
    ):
        return
    print("engine: installing PGlite + TimescaleDB (npm ci)", file=sys.stderr)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ENGINE_DIR, check=True
    )


class EmbeddedEngine:
    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 55432) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres:postgres@{self.host}:{self.port}/postgres?sslmode=disable"

    def start(self) -> None:
        ensure_installed()
        if port_answers(self.host, self.port):
            raise EngineError(f"port {self.port} is taken; set ESS_ENGINE_PORT to another port")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir.parent / f"engine-{self.port}.log", "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                "node",
                str(ENGINE_DIR / "launcher.mjs"),
                "--data-dir",
                str(self.data_dir),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--exit-with-stdin",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("READY"):
                return
            if line == "" and self.process.poll() is not None:
                raise EngineError(f"the embedded engine exited; see {log.name}")
        self.stop()
        raise EngineError(f"the embedded engine was not ready after {READY_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def database(settings) -> Iterator[str]:
    """Yield a database URL: DATABASE_URL, a running embedded engine, or one started for the
    duration of the block."""
    if settings.database_url:
        yield settings.database_url
        return
    if port_answers(settings.engine_host, settings.engine_port):
        yield settings.engine_url
        return
    engine = EmbeddedEngine(settings.engine_data_dir, settings.engine_host, settings.engine_port)
    print(
        f"engine: starting embedded TimescaleDB on port {engine.port} (data in {engine.data_dir})",
        file=sys.stderr,
    )
    engine.start()
    try:
        yield engine.url
    finally:
        engine.stop()


@contextlib.contextmanager
def throwaway_engine(prefix: str) -> Iterator[EmbeddedEngine]:
    """A fresh engine in a temporary directory on a free port, stopped and deleted after the
    block (the test session's and the benchmarks' own database)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        engine = EmbeddedEngine(Path(tmp) / "engine", port=free_port())
        engine.start()
        try:
            yield engine
        finally:
            engine.stop()


def is_embedded(server_version: str) -> bool:
    """The WebAssembly build reports the emscripten compiler in version()."""
    return "emcc" in server_version or "emscripten" in server_version.lower()
