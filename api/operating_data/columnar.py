"""Parquet and Arrow IPC downloads: each download slice becomes one Parquet row group (zstd) or
one Arrow record batch, typed from the catalog, written into a buffer that is drained after
every slice, so that memory stays at about two slices whatever the size of the download.

How a slice becomes typed columns: the same `COPY ... TO STDOUT (FORMAT csv)` as the CSV
download, parsed by pyarrow's CSV reader (C++) against the schema. Measured on one 30,000-row
rack slice on the embedded engine (bench/columnar_bench.py), this is faster than decoding the
same rows from a typed SELECT or a `COPY ... (FORMAT binary)` with psycopg, which build a
Python object per value; and every value is the very text of the CSV download, so the formats
cannot disagree.

Types: the time as timestamp[us, tz=<output zone>], `integer` columns as integers of the
database column's width (int16 for smallint), `float` as float64, `json` as JSON text.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.ipc as pa_ipc
import pyarrow.parquet as pq

from api.catalog.units import unit_of
from api.operating_data.dataset import TIME_NAME, OutputColumn
from api.operating_data.plan import Selection
from api.operating_data.respond import ARROW_STREAM, PARQUET

PARQUET_COMPRESSION = "zstd"
METADATA_KEY = b"ess"  # the schema's metadata: one JSON object under this key

_INTEGER_WIDTHS = {"int2": pa.int16(), "int4": pa.int32()}  # anything else: int64
# an unquoted empty field is SQL NULL; "" (quoted) is an empty text, never a null
_CONVERT = {"null_values": [""], "strings_can_be_null": True, "quoted_strings_can_be_null": False}


def arrow_type(column: OutputColumn, database_type: str) -> pa.DataType:
    if column.value_type == "json":
        return pa.string()
    if column.value_type == "float":
        return pa.float64()
    return _INTEGER_WIDTHS.get(database_type, pa.int64())


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def file_metadata(selection: Selection, window_start: datetime, window_end: datetime) -> dict:
    """What the file says about itself: site, component, series, window, zone, units (and,
    for de-identified data, the key's identifier). Published names only."""
    dataset = selection.dataset
    zone = ZoneInfo(selection.tz)
    units = {c.name: unit for c in selection.columns if (unit := unit_of(c.name, c.value_type))}
    return {
        "site": {"id": dataset.site.site_id, "code": dataset.site.code},
        "component": dataset.component,
        "series": dict(selection.fixed),
        "window": {"start": _stamp(window_start, zone), "end": _stamp(window_end, zone)},
        "time_zone": selection.tz,
        "units": units,
        **dict(dataset.provenance),
    }


def arrow_schema(selection: Selection, database_types: tuple[str, ...]) -> pa.Schema:
    """The file's schema: the output columns of the rows statement, typed (database_types:
    the statement's column types, the time first), with the metadata and each unit."""
    window = selection.window
    metadata = file_metadata(selection, window.start, window.end)
    fields = [pa.field(TIME_NAME, pa.timestamp("us", tz=selection.tz))]
    for column, database_type in zip(selection.columns, database_types[1:], strict=True):
        unit = metadata["units"].get(column.name)
        fields.append(
            pa.field(
                column.name,
                arrow_type(column, database_type),
                metadata={"unit": unit} if unit else None,
            )
        )
    return pa.schema(fields, metadata={METADATA_KEY: json.dumps(metadata).encode()})


def csv_batch(chunks: list[bytes], schema: pa.Schema) -> pa.RecordBatch:
    """One slice's CSV (no header row) as one record batch of `schema`."""
    if not chunks:
        return pa.RecordBatch.from_pylist([], schema=schema)
    # the CSV times carry their offset: read them as instants (UTC), then label the zone
    instants = pa.timestamp("us", tz="UTC")
    table = pa_csv.read_csv(
        io.BytesIO(b"".join(chunks)),
        read_options=pa_csv.ReadOptions(column_names=schema.names),
        convert_options=pa_csv.ConvertOptions(
            column_types={**{f.name: f.type for f in schema}, TIME_NAME: instants}, **_CONVERT
        ),
    )
    table = table.set_column(0, schema.field(0), table.column(0).cast(schema.field(0).type))
    return table.replace_schema_metadata(schema.metadata).combine_chunks().to_batches()[0]


class _Sink(io.RawIOBase):
    """Where a pyarrow writer writes; `drain` takes what it wrote since the last drain."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> list[bytes]:
        data = bytes(self._buffer)
        self._buffer.clear()
        return [data] if data else []


class ColumnarEncoder:
    """Slices of CSV -> the bytes of a Parquet file (one row group per slice) or of an Arrow
    IPC stream (one record batch per slice), ready to send after each slice."""

    csv_header = json = False

    def __init__(self, schema: pa.Schema, parquet: bool) -> None:
        self.schema = schema
        self.rows = 0
        self._sink = _Sink()
        if parquet:
            self.media_type, self.extension = PARQUET, "parquet"
            self._writer = pq.ParquetWriter(self._sink, schema, compression=PARQUET_COMPRESSION)
        else:
            self.media_type, self.extension = ARROW_STREAM, "arrows"
            self._writer = pa_ipc.new_stream(self._sink, schema)

    def encode(self, chunks: list[bytes]) -> list[bytes]:
        batch = csv_batch(chunks, self.schema)
        if batch.num_rows:  # an empty slice adds no empty row group
            self.rows += batch.num_rows
            if isinstance(self._writer, pq.ParquetWriter):
                self._writer.write_batch(batch, row_group_size=batch.num_rows)
            else:
                self._writer.write_batch(batch)
        return self._sink.drain()

    def finish(self) -> list[bytes]:
        self._writer.close()
        return self._sink.drain()
