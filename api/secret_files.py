"""Development secrets kept under the data directory (never in the repository): created once with
owner-only permissions, then read back, so tokens and de-identified names survive restarts."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def read_or_create_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two processes starting at once agree on one secret
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        for _ in range(50):  # another process may be writing it right now
            if value := path.read_text().strip():
                return value
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it to have a new secret made") from None
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip()


def write_secret(path: Path, value: str) -> None:
    """Replace a secret file atomically, owner-only from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, path)
