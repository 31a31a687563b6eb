"""PostgreSQL's binary COPY format, built in Python for the loader's COPY path.

A COPY stream is a signature and a header, then per row its number of fields and per field its
byte length and bytes (length -1 and no bytes for NULL), then a trailer of -1. The loader checks a
file column by column; here a batch of columns becomes rows without a Python call per value: the
fixed-width columns without NULLs are packed for all rows at once by one `struct` (most columns of
a rack row), and only the others (jsonb, a column with empty cells) are encoded per value and
spliced in. The columns of a batch are therefore written in their own order, which the batch's
COPY statement names."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import chain

from api.loader.pgbinary import ARRAY_TYPES, packer

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no header extension
TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_JSONB_VERSION = b"\x01"


def _jsonb_field(text: bytes) -> bytes:
    return struct.pack(">i", len(text) + 1) + _JSONB_VERSION + text


def _fields(sql_type: str, values: Sequence) -> list[bytes]:
    """One encoded field per value, for a column that cannot be packed as a block."""
    code = ARRAY_TYPES[sql_type].code
    if code is None:  # jsonb: its binary form is a version byte and the JSON text
        encoded: dict[bytes, bytes] = {}  # the same fault map repeats on most rows
        return [
            _NULL if v is None else encoded.get(v) or encoded.setdefault(v, _jsonb_field(v))
            for v in values
        ]
    field = struct.Struct(">i" + code)
    width = field.size - 4
    return [_NULL if v is None else field.pack(width, v) for v in values]


def encode_rows(sql_types: Sequence[str], columns: Sequence[Sequence]) -> tuple[list[int], bytes]:
    """The rows of a batch (one sequence per column, all of one length) in binary COPY format,
    without signature or trailer; and the order of the columns in them (indexes into
    `sql_types`): first the ones packed as one block, then the ones encoded value by value."""
    rows = len(columns[0])
    packed: list[int] = []
    per_value: list[int] = []
    for index, (sql_type, values) in enumerate(zip(sql_types, columns, strict=True)):
        fixed = ARRAY_TYPES[sql_type].code is not None and None not in values
        (packed if fixed else per_value).append(index)
    # one row of the block: field count, then (length, value) per packed column
    codes = [ARRAY_TYPES[sql_types[i]].code or "" for i in packed]
    stride = 1 + 2 * len(packed)
    flat: list = [None] * (rows * stride)
    flat[0::stride] = [len(sql_types)] * rows
    for position, (index, code) in enumerate(zip(packed, codes, strict=True)):
        flat[1 + 2 * position :: stride] = [struct.calcsize(">" + code)] * rows
        flat[2 + 2 * position :: stride] = columns[index]
    row_code = "h" + "".join("i" + code for code in codes)
    block = packer(row_code, rows).pack(*flat)
    if not per_value:
        return packed, block
    width = len(block) // rows
    view = memoryview(block)
    heads = [view[r * width : (r + 1) * width] for r in range(rows)]
    tails = [_fields(sql_types[i], columns[i]) for i in per_value]
    return packed + per_value, b"".join(chain.from_iterable(zip(heads, *tails, strict=True)))
