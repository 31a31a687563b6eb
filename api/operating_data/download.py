"""Downloads of any size, as CSV, Parquet or Arrow: consecutive time slices, each its own COPY,
encoded and streamed in order. `ess export` writes the same stream to a file, and the query
endpoints' no_page lists (one JSON array, or the CSV) are the same stream shown inline.

Why slices: the embedded engine builds a COPY's whole result in memory before the first byte
leaves, so one COPY per download would hold gigabytes; on a real server slices cost a few
planning milliseconds each. A slice holds about `download_slice_rows` rows at the nominal
cadence, which also bounds this process's memory whatever the download's size.

The next slice is read (and encoded) while the current one is sent, so the database never waits
for the network (and the other way round); at most two slices are in memory.

Disconnects: the stream is an async generator that holds no connection while it waits for the
client. Each slice is read by a worker thread that takes a pooled connection and gives it back
before its chunks are sent. When the client goes away, Litestar cancels the generator: the slice
being read runs to its end (bounded), its connection returns to the pool, and no further slice
starts.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

import anyio
from litestar import Request
from litestar.response import Stream
from psycopg_pool import ConnectionPool

from api.operating_data.execute import output_types, read_slice, stored_window
from api.operating_data.plan import Selection, plan_slices
from api.operating_data.respond import CSV_UTF8, JSON, accepts_gzip
from api.operating_data.settings import GZIP_LEVEL
from api.params import Window


class Encoder(Protocol):
    """Turns the rows of each slice (CSV, or JSON objects one per line) into the bytes of one
    file format."""

    media_type: str
    extension: str
    csv_header: bool  # the first slice's COPY prints the header row
    json: bool  # the slices' rows come as JSON objects, one per line (else as CSV)
    rows: int  # rows encoded so far

    def encode(self, chunks: list[bytes]) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...


class Gzip:
    """An encoder's output as one gzip member across all slices, or as it is."""

    def __init__(self, gzip: bool) -> None:
        self.gzip = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None

    def output(self, chunks: list[bytes]) -> list[bytes]:
        if self.gzip is None:
            return chunks
        return [compressed for chunk in chunks if (compressed := self.gzip.compress(chunk))]

    def end(self, chunks: list[bytes]) -> list[bytes]:
        return [*self.output(chunks), self.gzip.flush()] if self.gzip is not None else chunks


class CsvEncoder(Gzip):
    """The CSV as the database printed it."""

    media_type, extension, csv_header, json = CSV_UTF8, "csv", True, False

    def __init__(self, gzip: bool) -> None:
        super().__init__(gzip)
        self.lines = 0

    @property
    def rows(self) -> int:
        return max(self.lines - 1, 0)  # the header line is always read (first slice)

    def encode(self, chunks: list[bytes]) -> list[bytes]:
        self.lines += sum(chunk.count(b"\n") for chunk in chunks)
        return self.output(chunks)

    def finish(self) -> list[bytes]:
        return self.end([])


class JsonEncoder(Gzip):
    """One JSON array of the rows of all slices (no_page lists), each row exactly as in the
    results of a JSON page."""

    media_type, extension, csv_header, json = JSON, "json", False, True

    def __init__(self, gzip: bool) -> None:
        super().__init__(gzip)
        self.rows = 0

    def encode(self, chunks: list[bytes]) -> list[bytes]:
        lines = b"".join(chunks)
        if not lines:
            return []
        text = (b"," if self.rows else b"[") + lines.replace(b"\n", b",")
        self.rows += lines.count(b"\n") + 1
        return self.output([text])

    def finish(self) -> list[bytes]:
        return self.end([b"]" if self.rows else b"[]"])


def new_encoder(pool: ConnectionPool, selection: Selection, format: str, gzip: bool) -> Encoder:
    if format == "csv":
        return CsvEncoder(gzip)
    if format == "json":
        return JsonEncoder(gzip)
    # pyarrow is imported by the first columnar download only (it adds ~80 MB to the RSS of
    # a server that only ever sends CSV)
    from api.operating_data.columnar import ColumnarEncoder, arrow_schema

    schema = arrow_schema(selection, output_types(pool, selection))
    return ColumnarEncoder(schema, parquet=format == "parquet")


def file_name(selection: Selection, extension: str) -> str:
    """e.g. panli2_rack_bank1_20220510T000000+0900_20220511T000000+0900.csv (output zone)."""
    zone = ZoneInfo(selection.tz)

    def stamp(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y%m%dT%H%M%S%z")

    dataset = selection.dataset
    series = "".join(f"_{key.removesuffix('_id')}{value}" for key, value in selection.fixed)
    window = selection.window
    return (
        f"{dataset.site.code}_{dataset.component}{series}_"
        f"{stamp(window.start)}_{stamp(window.end)}.{extension}"
    )


def read_encoded(
    pool: ConnectionPool, selection: Selection, encoder: Encoder, window: Window, first: bool
) -> list[bytes]:
    """One slice, read and encoded (in a worker thread)."""
    header = first and encoder.csv_header
    return encoder.encode(read_slice(pool, selection, window, header, encoder.json))


@dataclass
class Download:
    """A download whose first slice is read: what is left to stream, and how."""

    pool: ConnectionPool
    selection: Selection
    encoder: Encoder
    first: list[bytes]
    rest: list[Window]

    @property
    def slices(self) -> int:
        return 1 + len(self.rest)

    @property
    def file_name(self) -> str:
        return file_name(self.selection, self.encoder.extension)


def prepare_download(
    pool: ConnectionPool, selection: Selection, format: str, slice_rows: int, gzip: bool = False
) -> Download:
    """Plan the slices over the stored part of the window and read the first one before
    answering, so that a database error is still a problem+json answer, not a cut stream."""
    stored = stored_window(pool, selection)
    # an empty window still runs one (empty) COPY: its header row, or the schema
    slices = plan_slices(stored, selection.series_count, slice_rows) or [stored]
    encoder = new_encoder(pool, selection, format, gzip)
    first = read_encoded(pool, selection, encoder, slices[0], True)
    return Download(pool, selection, encoder, first, slices[1:])


async def open_download(
    pool: ConnectionPool, selection: Selection, format: str, slice_rows: int, gzip: bool = False
) -> Download:
    """prepare_download in a worker thread."""
    return await anyio.to_thread.run_sync(
        prepare_download, pool, selection, format, slice_rows, gzip
    )


def _discard(future: asyncio.Future) -> None:
    """A prefetched slice nobody will send: let it finish, ignore its outcome."""
    if not future.cancelled():
        future.exception()


async def stream(
    download: Download, progress: Callable[[int], None] | None = None
) -> AsyncIterator[bytes]:
    """The download's bytes; `progress(n)` after the n-th slice was handed on."""
    loop = asyncio.get_running_loop()
    pool, selection, encoder = download.pool, download.selection, download.encoder
    pending: asyncio.Future | None = None
    chunks = download.first
    try:
        for number, window in enumerate(download.rest, 1):
            # read the next slice while this one is sent: the database and the network overlap
            pending = loop.run_in_executor(
                None, read_encoded, pool, selection, encoder, window, False
            )
            for chunk in chunks:
                yield chunk
            if progress is not None:
                progress(number)
            chunks = await pending
            pending = None
        for chunk in chunks + encoder.finish():
            yield chunk
        if progress is not None:
            progress(download.slices)
    finally:
        if pending is not None:
            pending.add_done_callback(_discard)


def streamed_response(download: Download, gzip: bool, headers: dict[str, str]) -> Stream:
    headers = {
        # explicit: a Stream's own media type yields to the handler's (the documented one)
        "Content-Type": download.encoder.media_type,
        "Vary": "Accept, Accept-Encoding",
        # proxies (nginx) must pass the chunks on as they come
        "X-Accel-Buffering": "no",
        **headers,
    }
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return Stream(stream(download), headers=headers)


async def download_response(
    request: Request, pool: ConnectionPool, selection: Selection, format: str, slice_rows: int
) -> Stream:
    # Parquet and Arrow are compressed (or meant to be read as they are): gzip is for CSV only
    gzip = format == "csv" and accepts_gzip(request)
    download = await open_download(pool, selection, format, slice_rows, gzip)
    attachment = f'attachment; filename="{download.file_name}"'
    return streamed_response(download, gzip, {"Content-Disposition": attachment})


def whole_list_response(
    request: Request, pool: ConnectionPool, selection: Selection, format: str, slice_rows: int
) -> Stream:
    """A no_page answer (JSON or CSV): every row of the window, sliced and streamed like a
    download but shown inline. Called from a worker thread (a synchronous handler)."""
    gzip = accepts_gzip(request)
    download = prepare_download(pool, selection, format, slice_rows, gzip)
    return streamed_response(download, gzip, {})
