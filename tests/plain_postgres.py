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
from dataclasses import dataclass
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


def as_server_user(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a server program (as the `postgres` system user when we are root)."""
    return subprocess.run(
        command, check=True, capture_output=True, text=True, **server_user(), **kwargs
    )


def server_user() -> dict:
    """subprocess arguments that run a server program as `postgres` when we are root (the
    server refuses to run as root)."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


def server_owned_dir(prefix: str) -> Path:
    """A fresh temporary directory the server user owns."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        os.chown(path, *_postgres_ids())
    return path


@dataclass(frozen=True)
class PlainServer:
    url: str  # the superuser's, without a database name (append one)
    data: Path
    bin_dir: Path  # the server programs without TimescaleDB's files
    socket_dir: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextmanager
def plain_postgres(port: int) -> Iterator[PlainServer]:
    """Start a fresh cluster on 127.0.0.1:port."""
    tmp = server_owned_dir("ess-plain-pg-")
    data, password_file = tmp / "data", tmp / "password"
    password_file.write_text(SUPERUSER_PASSWORD)
    bin_dir = without_timescaledb(server_bin(), tmp / "install")
    if os.geteuid() == 0:
        for path in (password_file, *(tmp / "install").rglob("*")):
            os.chown(path, *_postgres_ids(), follow_symlinks=False)
    try:
        as_server_user(
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
        log = str(tmp / "log")
        as_server_user(
            [
                str(bin_dir / "pg_ctl"),
                *("-D", str(data), "-o", server_options(port, tmp), "-l", log, "-w", "start"),
            ]
        )
        try:
            yield PlainServer(
                f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}", data, bin_dir, tmp
            )
        finally:
            as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def server_options(port: int, socket_dir: Path) -> str:
    """A test server's settings: 127.0.0.1:port only, its socket in socket_dir, no fsync."""
    return f"-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir} -c fsync=off"
