"""A throw-away plain PostgreSQL server (Debian's packages, no TimescaleDB) for the tests of what
`ess` says about servers it cannot use. Password authentication over TCP on 127.0.0.1; as root,
the server runs as the `postgres` system user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SUPERUSER_PASSWORD = "plain-superuser-pw"
MISSING = (
    "the tests of `ess` against a server without TimescaleDB need PostgreSQL's server programs "
    "(initdb, pg_ctl) under /usr/lib/postgresql/*/bin: `make test` installs them with apt-get "
    "when it runs as root; otherwise install the postgresql package"
)


def server_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        pytest.fail(MISSING)
    return found[-1].parent


def _as_server_user(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
    return subprocess.run(command, check=True, capture_output=True, text=True, **user, **kwargs)


@contextmanager
def plain_postgres(port: int) -> Iterator[str]:
    """Start a fresh cluster on 127.0.0.1:port; yields the superuser's URL without a
    database name (append one)."""
    bin_dir = server_bin()
    tmp = Path(tempfile.mkdtemp(prefix="ess-plain-pg-"))
    data, password_file = tmp / "data", tmp / "password"
    password_file.write_text(SUPERUSER_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    try:
        _as_server_user(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(data),
                "--username",
                "postgres",
                "--pwfile",
                str(password_file),
                "--auth",
                "scram-sha-256",
                "--no-sync",
            ]
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off"
        log = str(tmp / "log")
        _as_server_user(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "start"]
        )
        try:
            yield f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}"
        finally:
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
