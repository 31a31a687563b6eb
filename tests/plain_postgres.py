"""A throw-away plain PostgreSQL server (Debian's packages, no TimescaleDB) for the tests of what
`ess` says about servers it cannot use. Password authentication over TCP on 127.0.0.1; as root,
the server runs as the `postgres` system user (PostgreSQL refuses to run as root).

The server runs from a private view of the installation without TimescaleDB's files, so that it
lacks TimescaleDB even on a machine where a TimescaleDB package was added to the system's
PostgreSQL: PostgreSQL finds its share/ and lib/ directories relative to its own binary."""

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


def without_timescaledb(bin_dir: Path, root: Path) -> Path:
    """Copies of the server programs under `root`, beside links to the rest of the installation
    minus TimescaleDB's files; returns the copied bin directory."""
    version = bin_dir.parent.name
    views = {
        bin_dir.parent / "lib": root / "lib/postgresql" / version / "lib",
        Path("/usr/share/postgresql") / version: root / "share/postgresql" / version,
    }
    for source, view in views.items():
        _link_entries(source, view)
    private_bin = root / "lib/postgresql" / version / "bin"
    private_bin.mkdir(parents=True)
    for program in ("initdb", "pg_ctl", "postgres"):
        shutil.copy2(bin_dir / program, private_bin)
    return private_bin


def _link_entries(source: Path, view: Path) -> None:
    view.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name.startswith("timescaledb"):
            continue
        if entry.name == "extension":
            _link_entries(entry, view / entry.name)
        else:
            (view / entry.name).symlink_to(entry)


def _postgres_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


def _as_server_user(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}
    return subprocess.run(command, check=True, capture_output=True, text=True, **user, **kwargs)


@contextmanager
def plain_postgres(port: int) -> Iterator[str]:
    """Start a fresh cluster on 127.0.0.1:port; yields the superuser's URL without a
    database name (append one)."""
    tmp = Path(tempfile.mkdtemp(prefix="ess-plain-pg-"))
    data, password_file = tmp / "data", tmp / "password"
    password_file.write_text(SUPERUSER_PASSWORD)
    bin_dir = without_timescaledb(server_bin(), tmp / "install")
    if os.geteuid() == 0:
        for path in (tmp, password_file, *(tmp / "install").rglob("*")):
            os.chown(path, *_postgres_ids(), follow_symlinks=False)
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
