"""Several API processes are interchangeable: a paging cursor or a signed download link issued by
one `ess serve` process is accepted by another, given the same ESS_SIGNING_KEY (or, in
development, the same data directory, which keeps one key); and `ess serve --workers N`."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

from api.db import server_is_embedded
from tests.cli_run import ess, ess_env
from tests.helpers import TEST_JWT_SECRET, bearer, free_port
from tests.operating_data_site import create_site
from tests.test_signed_links import LINKS, download_path

KEY = "signing-key-of-this-test-" + "0123456789" * 3
PAGES = "/api/ess/operating-sites/{site}/banks/1/racks/?date=2022-05-10&page_size=20"


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        return create_site(conn, first_id=780)


def _env(migrated_url: str, data_dir: Path, **variables: str) -> dict[str, str]:
    return ess_env(
        data_dir,
        DATABASE_URL=migrated_url,
        ESS_JWT_SECRET=TEST_JWT_SECRET,
        ESS_RATE_LIMIT_BURST="0",
        **variables,
    )


class Server(NamedTuple):
    base: str
    pid: int


@contextlib.contextmanager
def servers(*envs: dict[str, str], workers: int = 1) -> Iterator[list[Server]]:
    """`ess serve` processes with these environments, running side by side. Each starts once the
    previous one answers: on the embedded engine (one session for every connection) two startups
    at once can interleave their statements and stall both."""
    ports = [free_port() for _ in envs]
    argv = ["serve", "--workers", str(workers), "--port"]
    processes = []
    try:
        for port, env in zip(ports, envs, strict=True):
            process = ess([*argv, str(port)], env)
            processes.append(process)
            deadline = time.monotonic() + 120
            while True:
                assert process.poll() is None, process.communicate()
                with contextlib.suppress(httpx.TransportError):
                    httpx.get(f"http://127.0.0.1:{port}/", timeout=60)
                    break
                assert time.monotonic() < deadline, "ess serve did not answer within 120 s"
                time.sleep(0.3)
        yield [
            Server(f"http://127.0.0.1:{port}", process.pid)
            for port, process in zip(ports, processes, strict=True)
        ]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.communicate(timeout=60)


def _next_and_link(base: str, site: int) -> tuple[list, str, str]:
    """Page 2 (by number), the next link of page 1 (a cursor) and a signed download link, all
    from `base`."""
    first, second = (
        httpx.get(base + PAGES.format(site=site) + extra, headers=bearer(), timeout=120)
        for extra in ("", "&page=2")
    )
    assert first.status_code == second.status_code == 200, first.text + second.text
    link = httpx.post(base + LINKS, json={"url": download_path(site)}, headers=bearer())
    assert link.status_code == 200, link.text
    return second.json()["results"], first.json()["next"], link.json()["url"]


def _follow(base: str, next_url: str, link: str) -> tuple[httpx.Response, httpx.Response]:
    path = next_url.split("://", 1)[1].partition("/")[2]  # the next link names its issuer
    page = httpx.get(f"{base}/{path}", headers=bearer(), timeout=120)
    return page, httpx.get(base + link, timeout=120)  # a link needs no token


def test_cursors_and_links_of_one_process_open_on_another_with_the_same_key(
    migrated_url, site, tmp_path
):
    same_key = [_env(migrated_url, tmp_path / name, ESS_SIGNING_KEY=KEY) for name in "ab"]
    other_key = _env(migrated_url, tmp_path / "c", ESS_SIGNING_KEY=KEY[::-1])
    with servers(*same_key, other_key) as started:
        issuer, peer, stranger = (server.base for server in started)
        second, next_url, link = _next_and_link(issuer, site)
        page, download = _follow(peer, next_url, link)
        assert page.status_code == 200, page.text
        assert page.json()["results"] == second
        assert download.status_code == 200, download.text
        assert len(download.text.splitlines()) == 61  # header and a minute of one rack
        # a process with another key refuses both
        _, next_url, link = _next_and_link(issuer, site)
        page, download = _follow(stranger, next_url, link)
        assert page.status_code == 400 and page.json()["parameter"] == "cursor"
        assert download.status_code == 403 and download.json()["parameter"] == "signed"


def test_without_a_key_processes_sharing_a_data_directory_share_its_key(
    migrated_url, site, tmp_path
):
    env = _env(migrated_url, tmp_path)
    with servers(env, env) as started:
        issuer, peer = (server.base for server in started)
        second, next_url, link = _next_and_link(issuer, site)
        page, download = _follow(peer, next_url, link)
    assert page.status_code == 200 and page.json()["results"] == second
    assert download.status_code == 200, download.text
    assert (tmp_path / "signing-key").stat().st_mode & 0o777 == 0o600


def test_production_refuses_to_start_without_a_signing_key(migrated_url, tmp_path):
    env = _env(migrated_url, tmp_path, ESS_ENV="production", ESS_DEID_KEY="k" * 40)
    process = ess(["serve", "--port", str(free_port())], env)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0 and "ESS_SIGNING_KEY" in stderr


def test_workers(migrated_url, tmp_path):
    """Several processes on a server; refused on the embedded engine, which has one session."""
    env = _env(migrated_url, tmp_path, ESS_SIGNING_KEY=KEY)
    if server_is_embedded(migrated_url):
        process = ess(["serve", "--workers", "2", "--port", str(free_port())], env)
        _, stderr = process.communicate(timeout=120)
        assert process.returncode != 0 and "--workers" in stderr and "embedded" in stderr
        return
    with servers(env, workers=2) as [(base, pid)]:
        answers = [httpx.get(base + "/api/ess/operating-sites/", timeout=60) for _ in range(4)]
        children = subprocess.check_output(["pgrep", "-P", str(pid)]).split()
        commands = [Path(f"/proc/{int(pid)}/cmdline").read_bytes() for pid in children]
    assert all(a.status_code == 200 for a in answers)
    assert sum(b"spawn_main" in command for command in commands) == 2
