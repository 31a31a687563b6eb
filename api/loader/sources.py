"""Readers for the file formats real exports come in: CSV (optionally gzip-compressed) with the
standard library, Parquet and feather (Arrow IPC) with pyarrow.

A reader yields batches of columns (one Python list per file column) and the line (CSV) or row
(Parquet, feather) number of each row, so that every error can point at its place in the file."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from api.loader.plan import FileRejected

CSV_SUFFIXES = (".csv", ".csv.gz")
ARROW_SUFFIXES = (".parquet", ".pq", ".feather", ".arrow", ".ipc")
SUFFIXES = CSV_SUFFIXES + ARROW_SUFFIXES
PG_EPOCH_UNIX_MICROS = 946_684_800_000_000  # 2000-01-01 UTC, PostgreSQL's epoch

# csv refuses fields above 128 KiB by default; a JSON fault map is far below 1 MiB
csv.field_size_limit(1 << 20)


@dataclass
class RawBatch:
    positions: list[int]  # line or row number of each row
    columns: list[Sequence]  # one sequence per file column (the planned ones; others are empty)
    errors: list[tuple[int, str]] = field(default_factory=list)  # rows the reader could not use

    def __len__(self) -> int:
        return len(self.positions)


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(ARROW_SUFFIXES):
        return "feather"
    return None


def open_source(path: Path, site_timezone: str) -> CsvSource | ArrowSource:
    fmt = file_format(path)
    if fmt == "csv":
        return CsvSource(path)
    return ArrowSource(path, fmt, site_timezone)


class CsvSource:
    position_label = "line"

    def __init__(self, path: Path) -> None:
        raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")  # noqa: SIM115
        self._file = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._file, strict=True)
        try:
            self.headers = self._next_row() or []
            self.header_line = self._reader.line_num  # the last line of the header
        except UnicodeDecodeError:
            self.close()
            raise FileRejected("the file is not UTF-8 text (is it a CSV file?)") from None
        if not self.headers:
            self.close()
            raise FileRejected("the file is empty: a CSV file starts with a header line")
        self.kinds = ["text"] * len(self.headers)

    def _next_row(self) -> list[str] | None:
        for row in self._reader:
            if row:  # blank lines carry nothing
                return row
        return None

    def batches(self, size: int, used: list[int]) -> Iterator[RawBatch]:
        width = len(self.headers)
        wanted = set(used)
        reader = self._reader
        while True:
            rows: list[list[str]] = []
            positions: list[int] = []
            errors: list[tuple[int, str]] = []
            try:
                for row in reader:
                    if len(row) == width:
                        rows.append(row)
                        positions.append(reader.line_num)
                    elif row:
                        errors.append(
                            (reader.line_num, f"has {len(row)} fields, the header has {width}")
                        )
                    if len(rows) >= size:
                        break
            except csv.Error as exc:
                errors.append((reader.line_num, f"is not valid CSV ({exc})"))
                rows, positions = [], []
            except UnicodeDecodeError:
                errors.append((reader.line_num + 1, "is not UTF-8 text"))
                rows, positions = [], []
            if not rows and not errors:
                return
            columns = list(zip(*rows, strict=True)) if rows else [()] * width
            yield RawBatch(
                positions, [c if i in wanted else () for i, c in enumerate(columns)], errors
            )
            if errors and not rows:
                return  # a broken file: the reader cannot find the next row reliably

    def close(self) -> None:
        self._file.close()


class ArrowSource:
    position_label = "row"

    def __init__(self, path: Path, fmt: str, site_timezone: str) -> None:
        import pyarrow as pa

        self._pa = pa
        self._site_timezone = site_timezone
        self._fmt = fmt
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                self._parquet = pq.ParquetFile(path)
                schema = self._parquet.schema_arrow
            else:
                import pyarrow.feather as feather

                self._table = feather.read_table(path, memory_map=True)
                schema = self._table.schema
        except (pa.ArrowException, OSError) as exc:
            raise FileRejected(f"the file cannot be read as {fmt} ({exc})") from None
        self.headers = list(schema.names)
        self.kinds = [self._kind(f.type) for f in schema]

    def _kind(self, arrow_type) -> str:
        types = self._pa.types
        if types.is_dictionary(arrow_type):
            return self._kind(arrow_type.value_type)
        if types.is_timestamp(arrow_type):
            return "micros"
        if types.is_integer(arrow_type) or types.is_boolean(arrow_type):
            return "int"
        if types.is_floating(arrow_type) or types.is_decimal(arrow_type):
            return "float"
        if types.is_struct(arrow_type) or types.is_list(arrow_type):
            return "object"
        if types.is_large_list(arrow_type) or types.is_map(arrow_type):
            return "object"
        return "text"  # strings as they are; anything else is cast to its text form

    def _python(self, array, kind: str) -> list:
        import pyarrow.compute as pc

        pa = self._pa
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if kind == "micros":
            if array.type.tz is None:  # a naive time is the site's local time
                array = pc.assume_timezone(
                    array, self._site_timezone, ambiguous="earliest", nonexistent="earliest"
                )
            utc = pc.cast(array, pa.timestamp("us", "UTC"), safe=False)
            return pc.subtract(pc.cast(utc, pa.int64()), PG_EPOCH_UNIX_MICROS).to_pylist()
        if kind == "int" and pa.types.is_boolean(array.type):
            array = pc.cast(array, pa.int8())
        elif kind == "float" and not pa.types.is_float64(array.type):
            array = pc.cast(array, pa.float64())
        elif kind == "text" and not (
            pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        ):
            array = pc.cast(array, pa.string())
        return array.to_pylist()

    def batches(self, size: int, used: list[int]) -> Iterator[RawBatch]:
        pa = self._pa
        if self._fmt == "parquet":
            names = [self.headers[i] for i in used]
            record_batches = self._parquet.iter_batches(batch_size=size, columns=names)
        else:
            record_batches = self._table.select(used).to_batches(max_chunksize=size)
        first_row = 1
        try:
            for batch in record_batches:
                columns: list[list] = [[] for _ in self.headers]
                for position, index in enumerate(used):
                    columns[index] = self._python(batch.column(position), self.kinds[index])
                positions = list(range(first_row, first_row + batch.num_rows))
                first_row += batch.num_rows
                yield RawBatch(positions, columns)
        except pa.ArrowException as exc:
            yield RawBatch([], [[] for _ in self.headers], [(first_row, f"cannot be read ({exc})")])

    def close(self) -> None:
        self._parquet = self._table = None
