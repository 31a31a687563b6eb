"""Limits and secrets of the operating-data endpoints, from the environment.

Every request's work is bounded by these numbers rather than by a statement timeout alone: the
embedded engine never fires statement_timeout and runs one query at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api.config import Settings, env_number
from api.secret_files import signing_key

PAGE_SIZE_DEFAULT = 1000
PAGE_SIZE_MAX = 10000
# gzip level of pages and downloads when the client accepts gzip. Measured on rack CSV, one
# core: level 1 compresses 310-420 MB/s at 15x, level 6 135-170 MB/s at 31x, level 9 50-60 MB/s
# at 32x; level 1 never limits a stream, level 9 would (bench/operating_data_bench.py)
GZIP_LEVEL = 1
# measured with bench/paging_bench.py --depths (docs/operating-data.md)
SEEK_MIN_OFFSET = 10000

_CURSOR_KEY_PURPOSE = b"ess paging cursor v1"


@dataclass(frozen=True)
class OperatingDataSettings:
    cursor_key: bytes
    # longest window of one CSV download
    download_max_span: timedelta = timedelta(days=31)
    # rows per COPY of a download at the nominal cadence; also bounds the server's memory
    download_slice_rows: int = 30000
    # deepest row a numbered page may start at (OFFSET); deeper pages follow the cursor
    max_offset_rows: int = 200000
    # numbered pages starting this deep or deeper are sought from the per-minute row counts,
    # shallower ones read by OFFSET, which is cheaper there (docs/operating-data.md)
    seek_min_offset: int = SEEK_MIN_OFFSET
    # count=exact only over windows of at most this many rows at the nominal cadence
    count_max_rows: int = 3_000_000

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> OperatingDataSettings:
        return cls(
            cursor_key=signing_key(settings or Settings(), _CURSOR_KEY_PURPOSE),
            download_max_span=timedelta(days=env_number("ESS_DOWNLOAD_MAX_DAYS", 31, int, 1)),
            download_slice_rows=env_number("ESS_DOWNLOAD_SLICE_ROWS", 30000, int, 1),
            max_offset_rows=env_number("ESS_MAX_OFFSET_ROWS", 200000, int, 1),
            seek_min_offset=env_number("ESS_SEEK_MIN_OFFSET", SEEK_MIN_OFFSET, int, 0),
            count_max_rows=env_number("ESS_COUNT_MAX_ROWS", 3_000_000, int, 1),
        )
