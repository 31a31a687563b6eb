"""The embedded engine failing under `ess`: its data directory taken by another engine, its
port taken, and its process killed while `ess engine`, `ess serve` and `ess demo` use it (an
engine they share) or while `ess demo` runs on an engine it started itself."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_run import Failing, assert_fail_clearly, ess, ess_env
from tests.helpers import free_port

START_TIMEOUT_S = 180
# long enough (days of 1 s rows) to be killed in its first day
DEMO = ["demo", "--sites", "1", "--days", "5", "--interval", "1s", "--no-refresh", "--no-compress"]


def wait_for_line(process: subprocess.Popen, start: str, timeout: float) -> str:
    """The first line of the process's standard output that starts with `start`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if line.startswith(start):
                return line
            if line == "" and process.poll() is not None:
                pytest.fail(f"exited with {process.returncode}: {process.stderr.read()}")
    pytest.fail(f"no line starting with {start!r} within {timeout} s")


def engine_pid(data_dir: Path) -> int:
    """The node process of the engine on `data_dir`, from its lock file (`pid N port P`)."""
    return int((data_dir / "engine.lock").read_text().split()[1])


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    _, err = process.communicate(timeout=timeout)
    return process.returncode, err


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory) -> Iterator[tuple[dict[str, str], subprocess.Popen]]:
    """`ess engine` in the foreground, as a developer runs it; the environment that uses it."""
    data_dir = tmp_path_factory.mktemp("shared-engine")
    env = ess_env(data_dir)
    engine = ess(["engine"], env)
    try:
        wait_for_line(engine, "engine: ready", START_TIMEOUT_S)
        yield env, engine
    finally:
        if engine.poll() is None:
            engine.send_signal(signal.SIGTERM)
            engine.communicate(timeout=60)
        if (data_dir / "engine.lock").exists():
            kill(engine_pid(data_dir))


def test_a_second_engine_on_the_same_data_directory_and_a_busy_port_are_refused(
    shared_engine, tmp_path
):
    env, _ = shared_engine
    port = env["ESS_ENGINE_PORT"]
    other_port = str(free_port())
    assert_fail_clearly(
        # the same data directory, another port: a second engine would corrupt the directory
        Failing(
            ["migrate"],
            env | {"ESS_ENGINE_PORT": other_port},
            1,
            (
                f"{env['ESS_DATA_DIR']}/engine is used by another embedded engine",
                f"port {port}): use it (ESS_ENGINE_PORT={port})",
            ),
        ),
        Failing(
            ["engine"],
            ess_env(tmp_path, ESS_ENGINE_PORT=port),
            1,
            (f"ess engine: port {port} is in use", "ESS_ENGINE_PORT"),
        ),
    )


def test_an_engine_killed_under_running_commands_is_named_by_each(shared_engine, tmp_path):
    env, engine = shared_engine
    data_dir, port = Path(env["ESS_DATA_DIR"]), env["ESS_ENGINE_PORT"]
    migrate = ess(["migrate"], env)
    assert finish(migrate, START_TIMEOUT_S)[0] == 0, migrate.stderr

    web_port = free_port()
    server = ess(["serve", "--port", str(web_port)], env)
    demo = None
    try:
        wait_until_serving(server, web_port)
        demo = ess(DEMO, env)
        wait_for_line(demo, "ess demo: site 1", START_TIMEOUT_S)
        assert demo.poll() is None
        kill(engine_pid(data_dir))

        status, err = finish(demo)
        assert status == 1, err
        assert err.strip() == (  # the whole of it: no traceback
            f"ess demo: the embedded engine on port {port} stopped while the command ran. Run "
            f"`ess {' '.join(DEMO)}` again (it starts the engine again)."
        )
        status, err = finish(engine)
        assert status == 1, err
        assert err.startswith("ess engine: the embedded engine stopped (killed by SIGKILL; log: ")
        assert "Run `ess engine` again" in err
        status, err = finish(server)
        assert status == 1, err
        assert "ess serve: the embedded engine stopped while the server ran" in err
        assert "Traceback" not in err
    finally:
        for process in (server, demo):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()

    # the same directory, now free and migrated: `ess demo` starts its own engine, which dies
    own = ess(["--debug", *DEMO], ess_env(data_dir))
    try:
        wait_for_line(own, "ess demo: site 1", START_TIMEOUT_S)
        assert own.poll() is None
        kill(engine_pid(data_dir))
        status, err = finish(own)
    finally:
        if own.poll() is None:
            own.kill()
            own.communicate()
    assert status == 1, err
    assert "Traceback (most recent call last)" in err  # --debug
    assert "psycopg.OperationalError" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "ess demo: the embedded engine stopped while the command ran (killed by SIGKILL; log: "
    )
    assert last.endswith("again (it starts the engine again).")


def wait_until_serving(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"ess serve exited: {server.stderr.read()}")
            time.sleep(0.5)
    pytest.fail("ess serve did not answer")
