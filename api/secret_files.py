"""Development secrets kept under the data directory (never in the repository): created once with
owner-only permissions, then read back, so tokens and de-identified names survive restarts."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from api.config import ConfigurationError, Settings

DEV_SIGNING_KEY_FILE = "signing-key"


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


def signing_key(settings: Settings, purpose: bytes) -> bytes:
    """The key of one kind of signed value (`purpose` names it, e.g. paging cursors), derived
    from ESS_SIGNING_KEY so that any process of any instance accepts what another signed;
    required in production, in development kept under the data directory (one for all the
    processes sharing it, and across restarts)."""
    secret = settings.signing_key
    if secret is None:
        if settings.production:
            raise ConfigurationError(
                "ESS_ENV=production needs ESS_SIGNING_KEY (at least 32 characters, the same for "
                "every API process): it signs paging cursors and download links"
            )
        secret = read_or_create_secret(settings.data_dir / DEV_SIGNING_KEY_FILE)
    elif len(secret) < 32:
        raise ConfigurationError("ESS_SIGNING_KEY must be at least 32 characters")
    return hmac.new(secret.encode(), purpose, hashlib.sha256).digest()
