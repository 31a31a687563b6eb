"""The de-identification key: ESS_DEID_KEY, or in development a key kept under the data
directory. It is never written to the database, a log or a view definition."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from api.config import Settings
from api.deid.names import DeidKeyError, check_key
from api.secret_files import read_or_create_secret, write_secret

DEV_KEY_FILE = "deid-key"


def dev_key(data_dir: Path) -> str:
    """The development key under `data_dir` (created with mode 0600 on first use)."""
    return read_or_create_secret(Path(data_dir) / DEV_KEY_FILE)


def configured_key(settings: Settings) -> str | None:
    """ESS_DEID_KEY; in development, else the development key if one was made (by `ess run`)."""
    key = os.environ.get("ESS_DEID_KEY") or None
    dev_file = settings.data_dir / DEV_KEY_FILE
    if key is None and not settings.production and dev_file.exists():
        key = dev_file.read_text().strip()
    if key is None and settings.production:
        raise DeidKeyError(
            "ESS_ENV=production needs ESS_DEID_KEY: the key of the de-identified column names"
        )
    return check_key(key) if key is not None else None


def new_key(key_file: Path) -> str:
    """A fresh random key, written to `key_file` (mode 0600) before it is used anywhere."""
    key = secrets.token_hex(32)
    write_secret(key_file, key)
    return key
