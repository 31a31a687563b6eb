"""What the fault tests share: a migrated data directory with a day of demo data, copied for each
test, `ess serve` as a real process, and the database outages they inflict on it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from api.engine import EmbeddedEngine, port_answers
from tests.cli_run import ESS, ess, ess_env
from tests.helpers import REPO_ROOT, TEST_DEID_KEY, TEST_JWT_SECRET, bearer, free_port

DEMO_DAY = "2023-04-10"
JSON_PAGE = f"/api/ess/operating-sites/2/banks/1/racks/1/?date={DEMO_DAY}&page_size=50"
DOWNLOAD = f"/api/ess/download/operating-sites/2/rack/?date={DEMO_DAY}"
SITES = "/api/ess/operating-sites/"
# the name the API's connections carry on a real server, so an outage terminates only them
API_APPLICATION_NAME = "ess-faults-api"


def user_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """A user's environment (no DATABASE_URL: the embedded engine in `data_dir`) with the test
    session's secrets and no rate limit."""
    return ess_env(
        data_dir,
        ESS_JWT_SECRET=TEST_JWT_SECRET,
        ESS_DEID_KEY=TEST_DEID_KEY,
        ESS_RATE_LIMIT_BURST="0",
        PGAPPNAME=API_APPLICATION_NAME,
        **variables,
    )


def run_ess(argv: list[str], env: dict[str, str], timeout: float = 300) -> str:
    process = ess(argv, env)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"ess {' '.join(argv)}: {err}"
    return out


def make_template(directory: Path) -> Path:
    """A data directory with the schema, de-identified views and site 2's demo day."""
    env = user_env(directory)
    run_ess(["migrate"], env)
    run_ess(["demo", "--sites", "2", "--days", "1", "--interval", "30s"], env)
    return directory


def copy_data(template: Path, target: Path) -> Path:
    shutil.copytree(template / "engine", target / "engine")
    return target


def engine_pid(data_dir: Path) -> int:
    """The pid of the engine a command started in `data_dir` (its lock file says `pid N port
    P`), once it has been written."""
    lock = data_dir / "engine.lock"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        words = lock.read_text().split() if lock.exists() else []
        if len(words) == 4:
            return int(words[1])
        time.sleep(0.1)
    raise AssertionError(f"no engine pid in {lock}")


@dataclass
class Server:
    """`ess serve` in a subprocess."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_within_s: float = 120) -> Server:
        # its output goes to a file: a pipe nobody reads fills up with the access log, and the
        # server then blocks on its next log line
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 (open while the server runs)
        self.process = subprocess.Popen(
            [*ESS, "serve", "--port", str(self.port)],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + ready_within_s
        while not port_answers("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise AssertionError(f"ess serve exited: {self.output()}")
            assert time.monotonic() < deadline, "ess serve did not listen in time"
            time.sleep(0.3)
        return self

    def client(self, timeout: float = 60) -> httpx.Client:
        return httpx.Client(base_url=self.base, headers=bearer(), timeout=timeout)

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self, within_s: float) -> tuple[int, str]:
        """The exit status and output, once it has exited."""
        assert self.process is not None
        self.process.wait(timeout=within_s)
        return self.process.returncode, self.output()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def serving(env: dict[str, str]) -> Iterator[Server]:
    server = Server(env).start()
    try:
        yield server
    finally:
        server.stop()


class EngineOutage:
    """The embedded engine killed (SIGKILL), then started again on its data directory."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        self.engine = engine

    def begin(self) -> None:
        assert self.engine.process is not None
        self.engine.process.kill()
        self.engine.process.wait()

    def end(self) -> None:
        self.engine.stop()  # releases the data directory's lock the killed engine held
        self.engine.start()


class BackendsOutage:
    """A real server: the API's backends terminated again and again until the end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.stopping = threading.Event()
        self.terminated = 0
        self.thread = threading.Thread(target=self._terminate, daemon=True)

    def _terminate(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stopping.wait(0.05):
                self.terminated += conn.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = %s AND pid <> pg_backend_pid()",
                    (API_APPLICATION_NAME,),
                ).fetchone()[0]

    def begin(self) -> None:
        self.thread.start()

    def end(self) -> None:
        self.stopping.set()
        self.thread.join()
        assert self.terminated > 0, "no backend of the API was terminated"


@dataclass
class Answer:
    sent: float
    seconds: float
    status: int
    content_type: str
    retry_after: str | None


def hammer(server: Server, paths: list[str], stop: threading.Event, answers: list[Answer]):
    """One client sending requests back to back until `stop`, each answer kept."""
    with server.client(timeout=120) as client:
        while not stop.is_set():
            for path in paths:
                sent = time.monotonic()
                response = client.get(path)
                answers.append(
                    Answer(
                        sent,
                        time.monotonic() - sent,
                        response.status_code,
                        response.headers.get("content-type", ""),
                        response.headers.get("retry-after"),
                    )
                )


def real_server_url() -> str | None:
    return os.environ.get("ESS_TEST_DATABASE_URL")
