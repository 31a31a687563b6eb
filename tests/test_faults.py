"""Faults, with real processes: the database going away under traffic, `ess serve` stopped by
SIGTERM in the middle of requests, aborted downloads and idle connections, and the embedded
engine killed in the middle of `ess load` and `ess demo`.

On the embedded engine the outage kills the engine and starts it again; on a real server
(ESS_TEST_DATABASE_URL) it terminates the API's backends."""

from __future__ import annotations

import csv
import os
import random
import re
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from api.cli import EMBEDDED_DURABILITY
from api.engine import EmbeddedEngine, port_answers, port_closes
from api.errors import RETRY_AFTER_S
from tests.cli_run import ess
from tests.faults import (
    DOWNLOAD,
    JSON_PAGE,
    SITES,
    Answer,
    BackendsOutage,
    EngineOutage,
    copy_data,
    engine_pid,
    hammer,
    make_template,
    real_server_url,
    run_ess,
    serving,
    user_env,
)
from tests.helpers import bearer, free_port

POOL_TIMEOUT_S = 30  # psycopg_pool's default, which the API keeps
BACK_WITHIN_S = 5
OUTAGE_S = 8


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return make_template(tmp_path_factory.mktemp("faults-template"))


@pytest.fixture
def data_dir(template, tmp_path) -> Path:
    return copy_data(template, tmp_path / "data")


@pytest.fixture
def outage_target(data_dir, request):
    """(DATABASE_URL of the API, the outage to inflict on it)."""
    if real_server_url():
        url = request.getfixturevalue("migrated_url")
        yield url, BackendsOutage(url)
        return
    engine = EmbeddedEngine(data_dir / "engine", port=free_port())
    engine.start()
    try:
        yield engine.url, EngineOutage(engine)
    finally:
        engine.stop()


def test_database_outage_answers_503_then_200_within_seconds_of_its_return(outage_target, data_dir):
    url, outage = outage_target
    with serving(user_env(data_dir, DATABASE_URL=url)) as server:
        with server.client(timeout=120) as client:
            assert client.get(SITES).status_code == 200
        stop, answers = threading.Event(), []
        clients = [
            threading.Thread(target=hammer, args=(server, [SITES, JSON_PAGE], stop, answers))
            for _ in range(4)
        ]
        for client_thread in clients:
            client_thread.start()
        time.sleep(2)
        outage_began = time.monotonic()
        outage.begin()
        time.sleep(OUTAGE_S)
        restart_began = time.monotonic()
        outage.end()
        database_back = time.monotonic()
        time.sleep(BACK_WITHIN_S + 3)
        stop.set()
        for client_thread in clients:
            client_thread.join(timeout=POOL_TIMEOUT_S + 10)
            assert not client_thread.is_alive(), "a request hung past the pool timeout"

    assert {a.status for a in answers} <= {200, 503}, sorted({a.status for a in answers})
    unavailable = [a for a in answers if a.status == 503]
    for answer in unavailable:
        assert answer.content_type.startswith("application/problem+json")
        assert answer.retry_after == str(RETRY_AFTER_S)
    if isinstance(outage, EngineOutage):
        # answered while the engine was surely down: after the kill, before its restart began
        # (the engine accepts connections before start() returns, so later ones may get 200)
        during = [
            a for a in answers if outage_began + 1 < a.sent < a.sent + a.seconds < restart_began
        ]
        assert during and all(a.status == 503 for a in during), [a.status for a in during]
    assert max(a.seconds for a in answers) < POOL_TIMEOUT_S
    recovered = [a for a in answers if a.status == 200 and a.sent > database_back]
    assert recovered, "no answer after the database came back"
    assert min(a.sent + a.seconds for a in recovered) - database_back < BACK_WITHIN_S
    # and once back, it stays back
    late = [a for a in answers if a.sent > database_back + BACK_WITHIN_S]
    assert late and all(a.status == 200 for a in late), [a.status for a in late]


def _download_head(port: int, read_bytes: int) -> None:
    """A raw download request, abandoned after `read_bytes` of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        headers = "".join(f"{k}: {v}\r\n" for k, v in bearer().items())
        sock.sendall(f"GET {DOWNLOAD} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        received = 0
        while received < read_bytes:
            chunk = sock.recv(min(65536, read_bytes - received))
            if not chunk:
                break
            received += len(chunk)


def test_aborted_downloads_and_idle_connections_leave_the_pool_healthy(data_dir):
    with serving(user_env(data_dir)) as server:
        with server.client(timeout=120) as client:
            full = client.get(DOWNLOAD)
            assert full.status_code == 200
            size = len(full.content)
            expected_rows = full.text.count("\n")
            assert expected_rows > 1000
        chances = random.Random(13)
        aborts = [
            threading.Thread(target=_download_head, args=(server.port, n))
            for n in [chances.randrange(0, size) for _ in range(100)]
        ]
        for thread in aborts:
            thread.start()
        for thread in aborts:
            thread.join(timeout=120)
        idle = []
        try:
            for _ in range(200):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                idle.append(sock)
            started = time.monotonic()
            with server.client(timeout=POOL_TIMEOUT_S + 5) as client:
                page = client.get(JSON_PAGE)
                download = client.get(DOWNLOAD)
            assert page.status_code == 200, page.text
            assert download.status_code == 200
            assert download.text.count("\n") == expected_rows
            assert time.monotonic() - started < 20
        finally:
            for sock in idle:
                sock.close()


def test_sigterm_lets_a_download_and_json_requests_finish_then_stops_the_engine(data_dir):
    env = user_env(data_dir)
    with serving(env) as server:
        engine_port = int(env["ESS_ENGINE_PORT"])
        with server.client(timeout=120) as client:
            expected = client.get(DOWNLOAD).content
            stop, answers = threading.Event(), []
            json_clients = [
                threading.Thread(target=_json_until_refused, args=(server, stop, answers))
                for _ in range(3)
            ]
            for thread in json_clients:
                thread.start()
            with client.stream("GET", DOWNLOAD) as download:
                chunks = download.iter_bytes()
                body = next(chunks)
                server.terminate()
                body += b"".join(chunks)
            assert body == expected, "the download was cut short"
            for thread in json_clients:
                thread.join(timeout=60)
        code, err = server.wait_stopped(within_s=60)
        assert code == 0, err
        assert "Traceback" not in err, err
        assert port_closes("127.0.0.1", engine_port, within_s=10), "the engine still runs"
    assert answers and all(a.status == 200 for a in answers), [a.status for a in answers]
    # the next start is clean: the same data answers
    with serving(env) as again, again.client(timeout=120) as client:
        assert client.get(DOWNLOAD).content == expected


def _json_until_refused(server, stop: threading.Event, answers: list[Answer]) -> None:
    """JSON pages back to back until the server refuses connections (it stopped)."""
    try:
        hammer(server, [JSON_PAGE], stop, answers)
    except httpx.TransportError:
        return


# -- the engine killed under a writing command


def _rack_file(path: Path, day: int, seconds: int) -> Path:
    """Rack rows of site 2, bank 1, racks 1-2, one per second of the local day `day`."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["TIMESTAMP", "BANK_ID", "RACK_ID", "RACK_SOC"])
        for s in range(seconds):
            stamp = f"2022-05-{day:02d} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}+09:00"
            writer.writerow([stamp, 1, 1, 50]), writer.writerow([stamp, 1, 2, 51])
    return path


LOADED = re.compile(r"^(\S+): ([\d,]+) rows: ([\d,]+) inserted", re.MULTILINE)


def _rows_per_day(url: str) -> dict[int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(day FROM ts AT TIME ZONE 'Asia/Seoul')::int, count(*), "
            "count(DISTINCT (ts, bank_id, rack_id)) FROM ess.rack WHERE site_id = 2 "
            "AND ts < '2022-06-01' GROUP BY 1"
        ).fetchall()
    assert all(total == distinct for _, total, distinct in rows), rows
    return {day: total for day, total, _ in rows}


def _opened(data_dir: Path) -> EmbeddedEngine:
    engine = EmbeddedEngine(data_dir / "engine", port=free_port())
    engine.start()
    return engine


def test_engine_killed_during_ess_load_loses_no_reported_file_and_a_rerun_completes(
    data_dir, tmp_path
):
    seconds = 20000
    files = [_rack_file(tmp_path / f"rack-{day}.csv", day, seconds) for day in range(1, 7)]
    env = user_env(data_dir)
    argv = ["load", "--site", "2", "--component", "rack", "--no-refresh", *map(str, files)]
    load = ess(argv, env)
    pid = engine_pid(data_dir)
    assert load.stdout is not None
    first = load.stdout.readline()  # the first file's report: the engine dies during the next
    assert LOADED.match(first), first
    os.kill(pid, signal.SIGKILL)
    out, err = load.communicate(timeout=120)
    assert load.returncode != 0
    assert "engine" in err and "Traceback" not in err, err
    reported = {Path(m.group(1)).name for m in LOADED.finditer(first + out)}
    assert reported, "no file was reported loaded before the kill"

    engine = _opened(data_dir)
    try:
        per_day = _rows_per_day(engine.url)
    finally:
        engine.stop()
    for day in range(1, 7):
        if f"rack-{day}.csv" in reported:
            assert per_day.get(day) == 2 * seconds, (day, per_day)
        else:  # the interrupted file: absent, or partly stored in whole batches
            assert per_day.get(day, 0) <= 2 * seconds

    rerun = run_ess(argv, env)
    assert "0 rejected" in rerun
    engine = _opened(data_dir)
    try:
        assert _rows_per_day(engine.url) == {day: 2 * seconds for day in range(1, 7)}
    finally:
        engine.stop()


def test_engine_killed_during_ess_demo_then_a_rerun_completes_without_duplicates(
    data_dir, template, tmp_path
):
    argv = ["demo", "--sites", "3", "--days", "1", "--interval", "60s", "--no-refresh"]
    env = user_env(data_dir)
    demo = ess(argv, env)
    pid = engine_pid(data_dir)
    assert demo.stdout is not None
    demo.stdout.readline()  # its first progress line: it is writing
    os.kill(pid, signal.SIGKILL)
    _, err = demo.communicate(timeout=120)
    assert demo.returncode != 0 and "Traceback" not in err, err
    run_ess(argv, env)
    clean = copy_data(template, tmp_path / "clean")
    run_ess(argv, user_env(clean))
    assert _demo_counts(data_dir) == _demo_counts(clean)


def _demo_counts(data_dir: Path) -> dict[str, tuple[int, int]]:
    """(rows, distinct keys) of site 3 per component table."""
    engine = _opened(data_dir)
    try:
        with psycopg.connect(engine.url, autocommit=True) as conn:
            return {
                table: conn.execute(
                    f"SELECT count(*), count(DISTINCT t::text) FROM ess.{table} t WHERE site_id = 3"
                ).fetchone()
                for table in ("bank", "rack", "pcs", "etc")
            }
    finally:
        engine.stop()


def test_ess_run_on_the_embedded_engine_says_what_a_crash_can_lose(data_dir):
    port = free_port()
    run = ess(["run", "--port", str(port)], user_env(data_dir))
    try:
        deadline = time.monotonic() + 180
        while not port_answers("127.0.0.1", port):
            assert run.poll() is None and time.monotonic() < deadline, run.communicate()[1]
            time.sleep(0.3)
    finally:
        run.send_signal(signal.SIGTERM)
        out, err = run.communicate(timeout=60)
    assert run.returncode == 0, err
    assert EMBEDDED_DURABILITY in out
