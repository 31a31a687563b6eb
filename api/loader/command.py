"""`ess load --site S --component C FILE...`: the command line around api.loader.load.

Exit codes: 0 every file loaded; 1 a file was rejected (malformed rows, unknown columns; the other
files are still loaded); 2 usage errors (unknown site, missing file, unsupported file type),
checked before anything is loaded."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import IO

import psycopg

from api.catalog.model import load_catalog
from api.errors import ProblemError
from api.loader.load import FileReport, Loader, refresh_loaded
from api.loader.sources import SUFFIXES, file_format
from api.refresh import analyze

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
# the two phases of a file's load, by the way it was stored (FileReport.method)
PHASES = {"copy": ("checked and staged", "moved"), "insert": ("checked", "sent")}


class UsageError(Exception):
    pass


def check_files(paths: list[str]) -> list[Path]:
    files = [Path(p) for p in paths]
    for file in files:
        if file.is_dir():
            raise UsageError(f"{file}: is a directory (give the files in it, e.g. {file}/*.csv)")
        if not file.is_file():
            raise UsageError(f"{file}: no such file")
        if not os.access(file, os.R_OK):
            raise UsageError(f"{file}: permission denied (this user may not read it)")
        if file_format(file) is None:
            raise UsageError(f"{file}: unsupported file type (use {', '.join(SUFFIXES)})")
    return files


def run(
    conn: psycopg.Connection,
    site_id: int,
    component: str,
    paths: list[str],
    *,
    refresh: bool = True,
    batch_rows: int | None = None,
    max_errors: int = 20,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        files = check_files(paths)
        catalog = load_catalog(conn)
        try:
            site = catalog.require_site(site_id)
        except ProblemError as exc:
            known = ", ".join(str(s) for s in sorted(catalog.sites))
            raise UsageError(f"{exc.detail} (sites: {known})") from None
        loader = Loader(
            conn,
            catalog,
            site,
            component,
            batch_rows=batch_rows,
            max_errors=max_errors,
            progress=err,
        )
        reports = []
        for file in files:
            reports.append(loader.load(file))
            print_report(reports[-1], out, err)
    except UsageError as exc:
        print(f"ess load: {exc}", file=err)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "ess load: interrupted; the files loaded so far stay stored (the file being loaded "
            "too, up to its last batch sent, on the embedded engine). Run the same command again "
            "to complete the load (rows already stored are skipped).",
            file=err,
        )
        return 130
    if len(reports) > 1:
        print_total(reports, out)
    after_load(conn, component, reports, refresh, out)
    return EXIT_OK if all(r.accepted for r in reports) else EXIT_REJECTED


def after_load(
    conn: psycopg.Connection, component: str, reports: list[FileReport], refresh: bool, out: IO[str]
) -> None:
    """What follows the files' loads: statistics of the written table, then the continuous
    aggregates over the loaded time ranges."""
    if any(r.inserted for r in reports):
        analyze(conn, [component])
    if refresh:
        started = time.monotonic()
        windows, names = refresh_loaded(conn, reports)
        if windows and names:
            print(
                f"refreshed {len(names)} continuous aggregates over {len(windows)} time "
                f"range(s) in {time.monotonic() - started:.1f} s",
                file=out,
            )


def print_report(report: FileReport, out: IO[str], err: IO[str]) -> None:
    name = report.path
    if report.ignored_columns:
        ignored = ", ".join(repr(c) for c in report.ignored_columns)
        print(f"ess load: {name}: ignored unnamed column(s) {ignored} (an index?)", file=err)
    if not report.accepted:
        print(f"ess load: {name}: rejected, nothing stored: {report.problem}", file=err)
        for message in report.errors:
            print(f"  {message}", file=err)
        print(
            f"{name}: rejected: {report.rows:,} rows read, 0 inserted, 0 skipped, "
            f"{report.rejected:,} rejected",
            file=out,
        )
        return
    rate = report.rows / report.seconds if report.seconds else 0.0
    print(
        f"{name}: {report.rows:,} rows: {report.inserted:,} inserted, {report.skipped:,} skipped "
        f"(already stored or repeated in the file), 0 rejected; {report.seconds:.1f} s, "
        f"{rate:,.0f} rows/s ({PHASES[report.method][0]} in {report.validate_seconds:.1f} s, "
        f"{PHASES[report.method][1]} in {report.insert_seconds:.1f} s)",
        file=out,
    )


def print_total(reports: list[FileReport], out: IO[str]) -> None:
    rows = sum(r.rows for r in reports)
    seconds = sum(r.seconds for r in reports)
    rejected_files = sum(not r.accepted for r in reports)
    print(
        f"total: {len(reports)} files ({rejected_files} rejected), {rows:,} rows: "
        f"{sum(r.inserted for r in reports):,} inserted, {sum(r.skipped for r in reports):,} "
        f"skipped, {sum(r.rejected for r in reports):,} rejected; "
        f"{rows / seconds if seconds else 0:,.0f} rows/s",
        file=out,
    )
