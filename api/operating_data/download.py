"""CSV downloads of any size: consecutive time slices, each its own COPY, streamed in order.

Why slices: the embedded engine builds a COPY's whole result in memory before the first byte
leaves, so one COPY per download would hold gigabytes; on a real server slices cost a few
planning milliseconds each. A slice holds about `download_slice_rows` rows at the nominal
cadence, which also bounds this process's memory whatever the download's size.

The next slice is read while the current one is sent, so the database never waits for the
network (and the other way round); at most two slices are in memory.

Disconnects: the stream is an async generator that holds no connection while it waits for the
client. Each slice is read by a worker thread that takes a pooled connection and gives it back
before its chunks are sent. When the client goes away, Litestar cancels the generator: the slice
being read runs to its end (bounded), its connection returns to the pool, and no further slice
starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import anyio
from litestar import Request
from litestar.response import Stream
from psycopg_pool import ConnectionPool

from api.operating_data.execute import Gzip, read_slice, stored_window
from api.operating_data.plan import Selection, plan_slices
from api.operating_data.respond import CSV_UTF8, accepts_gzip
from api.params import Window


def file_name(selection: Selection) -> str:
    """e.g. panli2_rack_bank1_20220510T000000+0900_20220511T000000+0900.csv (output zone)."""
    zone = ZoneInfo(selection.tz)

    def stamp(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y%m%dT%H%M%S%z")

    dataset = selection.dataset
    series = "".join(f"_{key.removesuffix('_id')}{value}" for key, value in selection.fixed)
    window = selection.window
    return (
        f"{dataset.site.code}_{dataset.component}{series}_"
        f"{stamp(window.start)}_{stamp(window.end)}.csv"
    )


def _discard(future: asyncio.Future) -> None:
    """A prefetched slice nobody will send: let it finish, ignore its outcome."""
    if not future.cancelled():
        future.exception()


async def _chunks(
    pool: ConnectionPool,
    selection: Selection,
    first: list[bytes],
    rest: list[Window],
    gzip: Gzip | None,
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    pending: asyncio.Future | None = None
    chunks = first
    try:
        for window in rest:
            # read the next slice while this one is sent: the database and the network overlap
            pending = loop.run_in_executor(None, read_slice, pool, selection, window, False, gzip)
            for chunk in chunks:
                yield chunk
            chunks = await pending
            pending = None
        for chunk in chunks:
            yield chunk
        if gzip is not None:
            yield gzip.finish()
    finally:
        if pending is not None:
            pending.add_done_callback(_discard)


async def csv_download(
    request: Request, pool: ConnectionPool, selection: Selection, slice_rows: int
) -> Stream:
    """Plan the slices over the stored part of the window and read the first one before
    answering, so that a database error is still a problem+json answer, not a cut stream."""
    stored = await anyio.to_thread.run_sync(stored_window, pool, selection)
    # an empty window still runs one (empty) COPY: its header row
    slices = plan_slices(stored, selection.series_count, slice_rows) or [stored]
    gzip = Gzip() if accepts_gzip(request) else None
    first = await anyio.to_thread.run_sync(read_slice, pool, selection, slices[0], True, gzip)
    headers = {
        "Content-Disposition": f'attachment; filename="{file_name(selection)}"',
        "Vary": "Accept-Encoding",
        # proxies (nginx) must pass the chunks on as they come
        "X-Accel-Buffering": "no",
    }
    if gzip is not None:
        headers["Content-Encoding"] = "gzip"
    return Stream(
        _chunks(pool, selection, first, slices[1:], gzip),
        media_type=CSV_UTF8,
        headers=headers,
    )
