"""Run `ess` as a user does, in a subprocess, and check how it fails."""

from __future__ import annotations

import os
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port

ESS = [sys.executable, "-m", "api.cli"]


def ess_env(data_dir: Path, **variables: str) -> dict[str, str]:
    """The environment of a user without DATABASE_URL, whose embedded engine would live in
    `data_dir` on a port nothing uses (never the engine of a developer's `make run`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ESS_DEBUG")}
    env |= {"ESS_DATA_DIR": str(data_dir), "ESS_ENGINE_PORT": str(free_port())}
    return env | variables


def ess(argv: list[str], env: dict[str, str], prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    return subprocess.Popen(
        [*prefix, *ESS, *argv],
        env=env,
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Failing:
    """A command that must fail: its exit status and the words standard error names it by."""

    argv: list[str]
    env: dict[str, str]
    status: int
    words: tuple[str, ...]
    prefix: tuple[str, ...] = ()


def assert_fail_clearly(*cases: Failing, timeout: float = 120) -> list[str]:
    """Run `ess ARGV` and `ess --debug ARGV` of every case side by side: each exits with its
    status and names the cause (every one of its words) on standard error; only the --debug run
    shows a traceback. Returns the standard error of each plain run."""
    started = [
        (
            case,
            ess(case.argv, case.env, case.prefix),
            ess(["--debug", *case.argv], case.env, case.prefix),
        )
        for case in cases
    ]
    errors = []
    for case, plain, debug in started:
        _, err = plain.communicate(timeout=timeout)
        _, debug_err = debug.communicate(timeout=timeout)
        assert plain.returncode == case.status, err
        assert debug.returncode == case.status, debug_err
        for word in case.words:
            assert word in err, err
            assert word in debug_err, debug_err
        assert "Traceback" not in err, err
        assert "Traceback (most recent call last)" in debug_err, debug_err
        errors.append(err)
    return errors


def assert_fails_clearly(argv: list[str], env: dict[str, str], status: int, *words: str) -> str:
    return assert_fail_clearly(Failing(argv, env, status, words))[0]


@contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never answers (a server hung, or a firewall that
    completes the handshake)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


class _NotPostgres(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


@contextmanager
def http_like_listener() -> Iterator[int]:
    """A port held by a program that answers, but not as PostgreSQL."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NotPostgres) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()
