"""PostgreSQL's binary COPY format, built in Python for the loader's COPY path.

A COPY stream is a signature and a header, then per row its number of fields and per field its
byte length and bytes (length -1 and no bytes for NULL), then a trailer of -1. The loader checks a
file column by column; here a batch of columns becomes rows without a Python call per value: the
fixed-width columns without NULLs are packed for all rows at once as a numpy record array (most
columns of a rack row), and only the others (jsonb, a column with empty cells) are encoded per
value and spliced in. The columns of a batch are therefore written in their own order, which
the batch's COPY statement names."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from itertools import chain

import numpy

from api.loader.pgbinary import ARRAY_TYPES

SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no OIDs, no header extension
TRAILER = struct.pack(">h", -1)
_NULL = struct.pack(">i", -1)
_JSONB_VERSION = b"\x01"
NUMPY_TYPES = {"d": ">f8", "f": ">f4", "h": ">i2", "i": ">i4", "q": ">i8"}  # by struct code


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
    `sql_types`): first the ones packed as one block, then the ones spliced in row by row."""
    rows = len(columns[0])
    # the block: a record per row (field count, then per column its length and value, or its
    # whole encoded field when every row's has the same size), as a numpy record array without
    # padding; numpy converts each column's list at C speed
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    filled: list[tuple[str, object]] = [("fields", len(sql_types))]
    packed: list[int] = []
    spliced: list[tuple[int, list[bytes]]] = []
    for index, (sql_type, values) in enumerate(zip(sql_types, columns, strict=True)):
        code = ARRAY_TYPES[sql_type].code
        if code is not None and None not in values:
            layout += [(f"length{index}", ">i4"), (f"value{index}", NUMPY_TYPES[code])]
            filled += [(f"length{index}", struct.calcsize(">" + code)), (f"value{index}", values)]
            packed.append(index)
            continue
        fields = _fields(sql_type, values)
        sizes = set(map(len, fields))
        if len(sizes) == 1:  # a fault map that repeats, a column of NULLs
            layout.append((f"field{index}", f"S{sizes.pop()}"))
            filled.append((f"field{index}", fields))
            packed.append(index)
        else:
            spliced.append((index, fields))
    block = numpy.empty(rows, numpy.dtype(layout))
    for name, values in filled:
        block[name] = values
    if not spliced:
        return packed, block.tobytes()
    width = block.dtype.itemsize
    view = memoryview(block.tobytes())
    heads = [view[r * width : (r + 1) * width] for r in range(rows)]
    tails = [fields for _, fields in spliced]
    order = packed + [index for index, _ in spliced]
    return order, b"".join(chain.from_iterable(zip(heads, *tails, strict=True)))
