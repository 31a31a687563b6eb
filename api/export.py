"""`ess export`: a download written to a file on the server, by the API's own code path.

    ess export --site 2 --component rack --date 2023-04-10 --format parquet -o day.parquet

The options become the download's query parameters and go through the same parse and plan
(the same window limits, field names and errors), then the same slices and encoder as
GET /api/ess/download/[di/]operating-sites/{site}/{component}/, so the file is byte for byte
the API's answer. The file appears only when complete (written beside it, then renamed).

Exit codes: 0 done; 2 a bad option (named as the API names its parameter) or a database error.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import os
import sys
import time
from pathlib import Path

import psycopg

from api.catalog.model import COMPONENTS, load_catalog
from api.config import Settings
from api.db import connect, open_pool
from api.deid.model import deid_dataset, load_deid_catalog
from api.engine import database
from api.errors import ProblemError
from api.operating_data.dataset import Dataset, operating_dataset
from api.operating_data.download import Download, open_download, stream
from api.operating_data.parse import DOWNLOAD_FORMATS, parse_download_args
from api.operating_data.plan import fix_series, select
from api.operating_data.settings import OperatingDataSettings

# option -> the download's query parameter
_PARAMETERS = {
    "date": "date",
    "start": "start-time",
    "end": "end-time",
    "bank": "bank",
    "rack": "rack",
    "fields": "fields",
    "tz": "tz",
}


def add_parser(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser(
        "export",
        help="write a download (CSV, Parquet or Arrow, raw or de-identified) to a file",
        description="Write the rows of one site's component over a window to a file, exactly as "
        "the download API would send them (docs/operating-data.md). Progress goes to stderr.",
    )
    export.add_argument("--site", type=int, required=True, help="site id")
    export.add_argument("--component", required=True, choices=COMPONENTS)
    export.add_argument("--date", help="one local day of the site, YYYY-MM-DD")
    export.add_argument("--start", help="start of the window (ISO 8601; local time without offset)")
    export.add_argument("--end", help="end of the window (excluded)")
    export.add_argument("--bank", help="only this bank")
    export.add_argument("--rack", help="only this rack of the bank")
    export.add_argument("--fields", help="comma-separated columns (default: all)")
    export.add_argument("--tz", help="IANA time zone of the output times (default: the site's)")
    export.add_argument(
        "--deid", action="store_true", help="the de-identified data (published names only)"
    )
    export.add_argument("--format", choices=DOWNLOAD_FORMATS, default="csv")
    export.add_argument("-o", "--output", type=Path, required=True, help="the file to write")


def _query(args: argparse.Namespace) -> list[tuple[str, str]]:
    pairs = [(parameter, getattr(args, option)) for option, parameter in _PARAMETERS.items()]
    return [(parameter, str(value)) for parameter, value in pairs if value is not None]


def _message(problem: ProblemError) -> str:
    """The API's problem detail, with the option that set the parameter it names."""
    options = {parameter: option for option, parameter in _PARAMETERS.items()}
    option = options.get(problem.parameter, problem.parameter)
    return f"{problem.detail} (--{option})" if option else str(problem.detail)


def _dataset(conn: psycopg.Connection, site_id: int, component: str, deid: bool) -> Dataset:
    catalog = load_catalog(conn)
    site = catalog.require_site(site_id)
    if deid:
        return deid_dataset(catalog, load_deid_catalog(conn), site, component)
    return operating_dataset(catalog, site, component)


class _Progress:
    """A line on stderr at most once a second (rewritten in place on a terminal)."""

    def __init__(self, download: Download) -> None:
        self.download = download
        self.began = self.said = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, slices_done: int) -> None:
        now = time.perf_counter()
        if now - self.said < 1 and slices_done < self.download.slices:
            return
        self.said = now
        line = (
            f"export: slice {slices_done}/{self.download.slices}, "
            f"{self.download.encoder.rows:,} rows, {now - self.began:.0f} s"
        )
        print(line, end="\r" if self.tty else "\n", file=sys.stderr, flush=True)


async def _write(download: Download, path: Path) -> int:
    """The download's bytes into `path` (via a temporary file beside it); bytes written."""
    partial = path.with_name(f".{path.name}.partial")
    written = 0
    try:
        with partial.open("wb") as out:
            async for chunk in stream(download, _Progress(download)):
                out.write(chunk)
                written += len(chunk)
        os.replace(partial, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return written


def export(url: str, args: argparse.Namespace) -> tuple[Download, int, float]:
    settings = OperatingDataSettings.from_env()
    with connect(url) as conn:
        dataset = _dataset(conn, args.site, args.component, args.deid)
    parsed = parse_download_args(dataset, _query(args), settings.download_max_span)
    selection = select(dataset, parsed.selected, fix_series(dataset, parsed.bank, parsed.rack))
    began = time.perf_counter()
    with contextlib.closing(open_pool(url, max_size=2)) as pool:

        async def run() -> tuple[Download, int]:
            download = await open_download(
                pool, selection, args.format, settings.download_slice_rows
            )
            return download, await _write(download, args.output)

        # on a thread of its own: the caller may already run an event loop in this thread (a
        # test session driving a browser does), and asyncio.run refuses to nest
        with concurrent.futures.ThreadPoolExecutor(1) as runner:
            download, written = runner.submit(asyncio.run, run()).result()
    return download, written, time.perf_counter() - began


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    try:
        with database(settings) as url:
            download, written, seconds = export(url, args)
    except ProblemError as exc:
        print(f"ess export: {_message(exc)}", file=sys.stderr)
        return 2
    except psycopg.Error as exc:
        print(f"ess export: database error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the output file
        print(f"ess export: {exc}", file=sys.stderr)
        return 2
    print(
        f"export: {download.encoder.rows:,} rows in {download.slices} slice(s), "
        f"{written / 1e6:.1f} MB of {args.format} in {seconds:.1f} s -> {args.output}"
    )
    return 0
