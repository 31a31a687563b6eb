"""The fast path of checking a CSV file: pyarrow's CSV reader splits the file in C++, each column
arrives dictionary-encoded, and only its distinct texts go through the column's converter (the
same per-cell function the careful path uses, so each value is converted exactly as it would be
there). Sensor values are quantised and repeat: a batch of thousands of rows holds a few hundred
distinct texts per column.

The fast path words no errors. Anything it does not take as the common case (a value the
converter refuses, a row with the wrong number of fields, text that is not UTF-8, a header that
is not on the first line, a file pyarrow cannot split) raises Declined, and the loader checks the
file again on the careful path, which finds the line and words the reason. One known difference
of the two readers: text after a quoted field's closing quote (`"5"0`) is refused by the `csv`
module (strict) and read as `50` by pyarrow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy
import pyarrow as pa
import pyarrow.csv as pa_csv

from api.loader.plan import Plan

BLOCK_BYTES = 8 * 1024 * 1024  # of the file per block pyarrow parses
MEMO_LIMIT = 1 << 16  # distinct texts remembered per column
_TEXT = pa.dictionary(pa.int32(), pa.string())


class Declined(Exception):
    """The file needs the careful path (see the module's doc)."""


def checked_batches(path: Path, plan: Plan, width: int, size: int) -> Iterator[list[list]]:
    """The converted columns of plan.columns, in batches of at most `size` rows, for a CSV file
    whose header (of `width` fields) is its first line. Raises Declined (possibly after some
    batches were yielded: the caller discards them)."""
    names = [f"f{i}" for i in range(width)]
    used = [names[c.source_index] for c in plan.columns]
    memos: list[dict[str, Any]] = [{} for _ in plan.columns]
    try:
        reader = pa_csv.open_csv(
            pa.input_stream(
                path, compression="gzip" if path.name.lower().endswith(".gz") else None
            ),
            read_options=pa_csv.ReadOptions(
                column_names=names, skip_rows=1, block_size=BLOCK_BYTES, use_threads=False
            ),
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(used, _TEXT),
                include_columns=used,
                strings_can_be_null=False,
                null_values=[],
            ),
        )
        for block in reader:
            for first in range(0, block.num_rows, size):
                batch = block.slice(first, size)
                yield [
                    _convert(column.converter.cell, batch.column(index), memo)
                    for index, (column, memo) in enumerate(zip(plan.columns, memos, strict=True))
                ]
    except (pa.ArrowException, OSError) as exc:  # a file pyarrow cannot split
        raise Declined(str(exc)) from None


def _convert(cell: Callable[[str], Any], texts: pa.DictionaryArray, memo: dict) -> list:
    """Each distinct text through the converter once (remembered across batches), then spread
    over the rows by the dictionary's indexes."""
    if texts.null_count:
        raise Declined("a cell pyarrow read as missing")
    distinct = numpy.empty(len(texts.dictionary), dtype=object)
    try:
        distinct[:] = [_memoised(cell, text, memo) for text in texts.dictionary.to_pylist()]
    except ValueError as exc:
        raise Declined(str(exc)) from None
    return distinct[texts.indices.to_numpy()].tolist()


def _memoised(cell: Callable[[str], Any], text: str, memo: dict) -> Any:
    if text in memo:
        return memo[text]
    converted = cell(text)
    if len(memo) < MEMO_LIMIT:
        memo[text] = converted
    return converted
