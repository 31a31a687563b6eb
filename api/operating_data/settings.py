"""Limits and secrets of the operating-data endpoints, from the environment.

Every request's work is bounded by these numbers rather than by a statement timeout alone: the
embedded engine never fires statement_timeout and runs one query at a time.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from api.params import env_int

PAGE_SIZE_DEFAULT = 1000
PAGE_SIZE_MAX = 10000
# gzip level of pages and downloads when the client accepts gzip. Measured on rack CSV, one
# core: level 1 compresses 310-420 MB/s at 15x, level 6 135-170 MB/s at 31x, level 9 50-60 MB/s
# at 32x; level 1 never limits a stream, level 9 would (bench/operating_data_bench.py)
GZIP_LEVEL = 1

# Without ESS_CURSOR_KEY, cursors are signed with a key that lives as long as this process:
# they stop validating after a restart and differ between worker processes.
_PROCESS_CURSOR_KEY = secrets.token_bytes(32)


def _positive(name: str, default: int) -> int:
    return env_int(name, default, minimum=1)


@dataclass(frozen=True)
class OperatingDataSettings:
    cursor_key: bytes
    # longest window of one CSV download
    download_max_span: timedelta = timedelta(days=31)
    # rows per COPY of a download at the nominal cadence; also bounds the server's memory
    download_slice_rows: int = 30000
    # deepest row a numbered page may start at (OFFSET); deeper pages follow the cursor
    max_offset_rows: int = 200000
    # count=exact only over windows of at most this many rows at the nominal cadence
    count_max_rows: int = 3_000_000

    @classmethod
    def from_env(cls) -> OperatingDataSettings:
        key = os.environ.get("ESS_CURSOR_KEY", "").encode()
        return cls(
            cursor_key=key or _PROCESS_CURSOR_KEY,
            download_max_span=timedelta(days=_positive("ESS_DOWNLOAD_MAX_DAYS", 31)),
            download_slice_rows=_positive("ESS_DOWNLOAD_SLICE_ROWS", 30000),
            max_offset_rows=_positive("ESS_MAX_OFFSET_ROWS", 200000),
            count_max_rows=_positive("ESS_COUNT_MAX_ROWS", 3_000_000),
        )
