"""Load files into a component hypertable: validate the whole file, then store it.

A file is all or nothing. Every row is read and checked (numbers, times, keys against the site's
topology) and encoded in batches; only a file without a single malformed row is stored, by
`ON CONFLICT DO NOTHING`: rows already stored are skipped and never changed, so loading a file
twice adds nothing the second time. Two ways to store, chosen by what the server accepts:

- COPY (a real server): each checked batch is sent by binary `COPY FROM STDIN` into a temporary
  staging table as soon as it is checked, then one `INSERT ... SELECT ... ON CONFLICT DO NOTHING`
  moves the file into the hypertable; one transaction per file, rolled back if a malformed row
  turns up.
- INSERT (the embedded engine, whose socket server has no COPY FROM STDIN): the checked batches
  are spooled (in memory, or a temporary file for large files) and sent as INSERTs of binary
  arrays. No transaction spans the file on purpose: the engine has one session for all clients,
  and a long transaction there would take every other client's statements into it; a load
  interrupted between batches is completed by running it again."""

from __future__ import annotations

import pickle
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql

from api.analytics.protection.store import refresh_protection_events
from api.catalog.model import Catalog, Site
from api.engine import is_embedded
from api.loader.convert import PG_EPOCH, convert_column
from api.loader.fastcsv import Declined, checked_batches
from api.loader.pgbinary import ARRAY_TYPES, PackedArray, dictionary_encode
from api.loader.pgbinary import register as register_packed_arrays
from api.loader.pgcopy import SIGNATURE, TRAILER, encode_rows
from api.loader.plan import STAGE_TABLE, TIME_COLUMN, FileRejected, Plan, plan_file
from api.loader.sources import CsvSource, RawBatch, open_source
from api.refresh import refresh_aggregates

# Bytes of parameters per INSERT. On the embedded engine each statement costs a few ms besides its
# rows (planning a 58-column INSERT in WebAssembly), while its socket server slows down on large
# messages (20 MB took 0.8 s to arrive). Measured with rack rows, interleaved runs: 1,000 rows per
# statement 19-30k rows/s, 4,000 rows (2 MB) 33-36k, 16,000 17-35k, 32,000 12-29k. A real server
# has no such message cost; larger statements save round trips.
BATCH_BYTES_EMBEDDED = 2 * 1024 * 1024
BATCH_BYTES_SERVER = 4 * 1024 * 1024
MAX_BATCH_ROWS = 32_000  # dictionary indexes of jsonb columns are smallints
SPOOL_IN_MEMORY_BYTES = 64 * 1024 * 1024
PROGRESS_EVERY_SECONDS = 2.0


@dataclass
class FileReport:
    path: Path
    method: str = "insert"  # how it was stored: "copy" or "insert" (see the module's doc)
    rows: int = 0  # rows read (all of them, whether inserted, skipped or malformed)
    inserted: int = 0
    rejected: int = 0  # malformed rows
    errors: list[str] = field(default_factory=list)  # the first malformed rows, with the reason
    problem: str | None = None  # why the file was rejected
    first_micros: int | None = None  # time range of the file's rows (PostgreSQL microseconds)
    last_micros: int | None = None
    validate_seconds: float = 0.0  # on the COPY path: checking and streaming into the stage
    insert_seconds: float = 0.0  # on the COPY path: moving the staged rows
    ignored_columns: tuple[str, ...] = ()
    stopped_early: bool = False  # checking stopped at the error limit before the end of the file

    @property
    def accepted(self) -> bool:
        return self.problem is None

    @property
    def skipped(self) -> int:
        """Rows already stored, or repeated within the file."""
        return self.rows - self.inserted if self.accepted else 0

    @property
    def seconds(self) -> float:
        return self.validate_seconds + self.insert_seconds

    @property
    def window(self) -> tuple[datetime, datetime] | None:
        if self.first_micros is None or self.last_micros is None:
            return None
        return _moment(self.first_micros), _moment(self.last_micros + 1)


def _moment(micros: int) -> datetime:
    return PG_EPOCH + timedelta(microseconds=micros)


@dataclass
class CheckedFile:
    report: FileReport
    plan: Plan | None  # None when the file was rejected before its header was planned
    batches: int
    spool: IO[bytes]  # the encoded batches; closed by Loader.store


class Progress:
    """A line on stderr every few seconds during a long load: rows so far and the rate."""

    def __init__(self, stream: IO[str] | None, label: str, total: int | None = None) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.started = self.last = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if self.stream is None or now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        of = f" of {self.total:,}" if self.total is not None else ""
        rate = done / (now - self.started)
        print(f"ess load: {self.label} {done:,}{of} rows ({rate:,.0f} rows/s)", file=self.stream)


SendBatch = Callable[[Plan, list[list]], None]
Restart = Callable[[], None]  # forget the batches sent so far: the file is checked again


def copy_from_stdin_supported(server_version: str) -> bool:
    """Whether the server takes `COPY FROM STDIN`: a real server does; the embedded engine's
    socket server closes every connection to the engine at a COPY FROM STDIN (seen with the
    engine of engine/), so asking it by trying is no option: the server's own version() tells."""
    return not is_embedded(server_version)


class Loader:
    """Loads files of one component of one site over one connection (autocommit)."""

    def __init__(
        self,
        conn: psycopg.Connection,
        catalog: Catalog,
        site: Site,
        component: str,
        *,
        batch_rows: int | None = None,
        max_errors: int = 20,
        progress: IO[str] | None = sys.stderr,
    ) -> None:
        self.conn = conn
        self.site = site
        self.component = component
        self.key_columns = catalog.key_columns[component]
        self.batch_rows = batch_rows
        self.max_errors = max_errors
        self.progress = progress
        by_copy = copy_from_stdin_supported(conn.execute("SELECT version()").fetchone()[0])
        self.method = "copy" if by_copy else "insert"
        self.batch_bytes = BATCH_BYTES_SERVER if by_copy else BATCH_BYTES_EMBEDDED
        register_packed_arrays(conn)
        if component == "rack":
            self.valid_keys = {
                (bank, rack)
                for bank, racks in site.rack_counts.items()
                for rack in range(1, racks + 1)
            }
        else:
            self.valid_keys = set(site.rack_counts)

    def load(self, path: Path) -> FileReport:
        if self.method == "copy":
            return self.copy(path)
        return self.store(self.check(path))

    def copy(self, path: Path) -> FileReport:
        """The COPY path: check and stream into a staging table, then move, in one transaction."""
        report = FileReport(path, method="copy")
        staged: list[Plan] = []

        def send(plan: Plan, columns: list[list]) -> None:
            if not staged:
                self.conn.execute(plan.stage)
                staged.append(plan)
            self._note_window(plan, columns, report)
            order, rows = encode_rows([c.sql_type for c in plan.columns], columns)
            with self.conn.cursor().copy(plan.copy(order)) as copy:
                copy.write(SIGNATURE)
                copy.write(rows)
                copy.write(TRAILER)

        def restart() -> None:
            if staged:
                self.conn.execute(sql.SQL("TRUNCATE {}").format(STAGE_TABLE))

        with self.conn.transaction():
            self._check_file(path, report, send, restart)
            if not report.accepted:
                raise psycopg.Rollback
            if staged:
                started = time.monotonic()
                moved = self.conn.execute(staged[0].move, [self.site.site_id])
                report.inserted = moved.rowcount
                report.insert_seconds = time.monotonic() - started
        return report

    def check(self, path: Path) -> CheckedFile:
        """The INSERT path's pass 1: read, check and encode the whole file (no database work)."""
        report = FileReport(path)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES)  # noqa: SIM115

        def send(plan: Plan, columns: list[list]) -> None:
            self._note_window(plan, columns, report)
            arrays = encode_batch(plan, columns)
            pickle.dump((len(columns[0]), arrays), spool, protocol=pickle.HIGHEST_PROTOCOL)

        def restart() -> None:
            spool.seek(0)
            spool.truncate()

        try:
            plan, batches = self._check_file(path, report, send, restart)
        except BaseException:
            spool.close()
            raise
        return CheckedFile(report, plan, batches, spool)

    def _check_file(
        self, path: Path, report: FileReport, send: SendBatch, restart: Restart
    ) -> tuple[Plan | None, int]:
        """Read and check the whole file; each batch goes to `send` while no row was malformed.
        The plan (None if the file was rejected before it) and the number of batches sent."""
        started = time.monotonic()
        plan, batches = None, 0
        try:
            plan, batches = self._validate(path, report, send, restart)
        except FileRejected as exc:
            report.problem = str(exc)
        report.validate_seconds = time.monotonic() - started
        if report.problem is None and report.rejected:
            report.problem = f"{report.rejected} malformed rows"
            if report.stopped_early:
                report.problem += (
                    f" in the first {report.rows:,} rows (checking stops after "
                    f"{self.max_errors} errors; there may be more)"
                )
        return plan, batches

    def store(self, checked: CheckedFile) -> FileReport:
        """The INSERT path's pass 2: insert a checked file's batches, unless it was rejected."""
        report = checked.report
        with checked.spool as spool:
            if report.accepted:
                started = time.monotonic()
                spool.seek(0)
                self._insert(checked.plan, checked.batches, spool, report)
                report.insert_seconds = time.monotonic() - started
        return report

    # -- pass 1: read, validate, encode --------------------------------------------------------

    def _validate(
        self, path: Path, report: FileReport, send: SendBatch, restart: Restart
    ) -> tuple[Plan, int]:
        """The fast path for a CSV file (see fastcsv), else or if it declines the careful one."""
        source = open_source(path, self.site.timezone)
        try:
            plan = plan_file(
                self.site, self.component, self.key_columns, source.headers, source.kinds
            )
            report.ignored_columns = plan.ignored
            size = self.rows_per_batch(plan)
            done = "checked and staged" if report.method == "copy" else "checked"
            progress = Progress(self.progress, f"{path.name}: {done}")
            if isinstance(source, CsvSource) and source.header_line == 1:
                try:
                    return plan, self._send_fast(
                        path, plan, len(source.headers), size, report, send, progress
                    )
                except Declined:
                    restart()
                    report.rows, report.first_micros, report.last_micros = 0, None, None
            batches = 0
            used = [c.source_index for c in plan.columns]
            for raw in source.batches(size, used):
                report.rows += len(raw) + len(raw.errors)
                columns, errors = self._check(plan, raw, source.position_label)
                if errors:
                    report.rejected += len(errors)
                    report.errors.extend(errors[: self.max_errors - len(report.errors)])
                    if report.rejected >= self.max_errors:
                        report.stopped_early = True
                        break
                elif not report.rejected:
                    send(plan, columns)
                    batches += 1
                progress.update(report.rows)
            return plan, batches
        finally:
            source.close()

    def _send_fast(
        self,
        path: Path,
        plan: Plan,
        width: int,
        size: int,
        report: FileReport,
        send: SendBatch,
        progress: Progress,
    ) -> int:
        """Batches checked by fastcsv and sent; Declined if a value or row needs the careful
        path (a row outside the site's topology included: its message is the careful path's)."""
        batches = 0
        for columns in checked_batches(path, plan, width, size):
            if next(self._topology_errors(plan, columns), None) is not None:
                raise Declined("a row outside the site's topology")
            report.rows += len(columns[0])
            send(plan, columns)
            batches += 1
            progress.update(report.rows)
        return batches

    def rows_per_batch(self, plan: Plan) -> int:
        """Rows per INSERT: about batch_bytes of parameters (or as asked), below the dictionary
        index limit."""
        if self.batch_rows:
            return max(1, min(MAX_BATCH_ROWS, self.batch_rows))
        row_bytes = sum(ARRAY_TYPES[c.sql_type].element_bytes for c in plan.columns)
        return max(100, min(MAX_BATCH_ROWS, self.batch_bytes // row_bytes))

    def _check(self, plan: Plan, raw: RawBatch, label: str) -> tuple[list[list], list[str]]:
        """The batch's converted columns, and one message per malformed row."""
        problems: dict[int, list[str]] = {}
        converted = []
        for column in plan.columns:
            values, errors = convert_column(column.converter, raw.columns[column.source_index])
            for index, reason in errors.items():
                problems.setdefault(raw.positions[index], []).append(f"{column.header}: {reason}")
            converted.append(values)
        for position, reason in self._topology_errors(plan, converted):
            problems.setdefault(raw.positions[position], []).append(reason)
        for position, reason in raw.errors:
            problems.setdefault(position, []).append(reason)
        messages = [f"{label} {p}: {'; '.join(problems[p])}" for p in sorted(problems)]
        return converted, messages

    def _topology_errors(self, plan: Plan, columns: list[list]) -> Iterator[tuple[int, str]]:
        """Rows (by index in the batch) whose bank, or bank and rack, the site does not have.
        Keys that did not convert are None here and already have their error."""
        names = [c.name for c in plan.columns]
        if "bank_id" not in names:
            return
        site = self.site
        banks = columns[names.index("bank_id")]
        if self.component != "rack":
            if set(banks) - {None} <= self.valid_keys:
                return
            for index, bank in enumerate(banks):
                if bank is not None and bank not in self.valid_keys:
                    yield index, self._no_bank(bank)
            return
        racks = columns[names.index("rack_id")]
        if set(zip(banks, racks, strict=True)) <= self.valid_keys:
            return
        for index, key in enumerate(zip(banks, racks, strict=True)):
            bank, rack = key
            if bank is None or rack is None or key in self.valid_keys:
                continue
            if not site.has_bank(bank):
                yield index, self._no_bank(bank)
            else:
                yield (
                    index,
                    f"bank {bank} of site {site.site_id} has no rack {rack} "
                    f"(racks 1 to {site.rack_counts[bank]})",
                )

    def _no_bank(self, bank: int) -> str:
        banks = ", ".join(map(str, sorted(self.site.rack_counts)))
        return f"site {self.site.site_id} has no bank {bank} (banks: {banks})"

    @staticmethod
    def _note_window(plan: Plan, columns: list[list], report: FileReport) -> None:
        times = columns[plan.index_of(TIME_COLUMN)]
        first, last = min(times), max(times)
        if report.first_micros is None or first < report.first_micros:
            report.first_micros = first
        if report.last_micros is None or last > report.last_micros:
            report.last_micros = last

    # -- the INSERT path's pass 2 ----------------------------------------------------------------

    def _insert(self, plan: Plan, batches: int, spool: IO[bytes], report: FileReport) -> None:
        progress = Progress(self.progress, f"{report.path.name}: sent", report.rows)
        done = 0
        site_id = self.site.site_id
        for _ in range(batches):
            rows, arrays = pickle.load(spool)
            cursor = self.conn.execute(plan.insert, [site_id, *map(PackedArray, arrays)])
            report.inserted += cursor.rowcount
            done += rows
            progress.update(done)


def encode_batch(plan: Plan, columns: list[list]) -> list[bytes]:
    """The parameters of plan.insert after the site id, in binary array format."""
    arrays: list[bytes] = []
    for column, values in zip(plan.columns, columns, strict=True):
        if column.dictionary:
            arrays.extend(dictionary_encode(values))
        else:
            arrays.append(ARRAY_TYPES[column.sql_type].encode(values))
    return arrays


def merge_windows(reports: list[FileReport]) -> list[tuple[datetime, datetime]]:
    """The time ranges to refresh aggregates over: overlapping files' ranges merged."""
    windows = sorted(r.window for r in reports if r.accepted and r.window is not None)
    merged: list[tuple[datetime, datetime]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def refresh_loaded(
    conn: psycopg.Connection, reports: list[FileReport]
) -> tuple[list[tuple[datetime, datetime]], list[str]]:
    """Refresh the continuous aggregates over what the files covered (the embedded engine runs no
    background jobs; on a server, a backfill older than the policy's window needs it too).
    Windows without new rows cost little: TimescaleDB refreshes only invalidated ranges."""
    windows = merge_windows(reports)
    names: list[str] = []
    for start, end in windows:
        names = refresh_aggregates(conn, start, end)
        refresh_protection_events(conn, start, end)
    return windows, names
