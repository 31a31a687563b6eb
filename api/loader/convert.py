"""Per-column converters: file values -> values the binary encoder can pack.

A converter is chosen once per column from the column's target (float, integer, JSON, time) and
the kind of values the reader delivers (text from CSV; typed values from Parquet/feather). Each has
a per-cell function that raises ValueError with the reason, and most have a whole-column fast path
that runs at C speed (`map(float, ...)`) and gives way to the per-cell path when a column holds an
empty cell, a '1.0' in an integer column, a bad value, ...: only those batches pay for the care."""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

from api.errors import ProblemError
from api.params import parse_time

# Cells that mean "no value" besides the empty one (pandas, psql, Python exports).
NULL_TOKENS = frozenset({"", "null", "none", "nan", "na", "n/a", r"\n"})

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)

# the JSON text of a cell that holds a very large value is not worth a parser's time
MAX_JSON_CHARS = 100_000
MEMO_LIMIT = 1 << 16  # distinct texts remembered per column


class Converter(NamedTuple):
    cell: Callable[[Any], Any]
    column: Callable[[Sequence], list] | None = None  # fast path; raises on anything unusual


def convert_column(converter: Converter, values: Sequence) -> tuple[list, dict[int, str]]:
    """Converted values and {index: reason} for the cells that could not be converted."""
    if converter.column is not None:
        try:
            return converter.column(values), {}
        except (ValueError, TypeError):
            pass
    try:
        return list(map(converter.cell, values)), {}
    except ValueError:
        pass
    converted: list = []
    errors: dict[int, str] = {}
    for index, value in enumerate(values):
        try:
            converted.append(converter.cell(value))
        except ValueError as exc:
            converted.append(None)
            errors[index] = str(exc)
    return converted, errors


def memoised(column: Callable[[Sequence], list]) -> Callable[[Sequence], list]:
    """A text column's fast path with a memo of the texts seen: sensor values are quantised
    (0.1 C, 1 mV, flags 0/1) and repeat, and a dict lookup costs a sixth of float(text). A batch
    with a text not yet seen converts as a whole and teaches the memo its texts."""
    memo: dict[str, Any] = {}

    def convert(values: Sequence) -> list:
        try:
            return list(map(memo.__getitem__, values))
        except KeyError:
            pass
        converted = column(values)
        if len(memo) < MEMO_LIMIT:
            memo.update(zip(values, converted, strict=True))
        return converted

    return convert


def _is_null_text(value: str | None) -> bool:
    return value is None or value.strip().lower() in NULL_TOKENS


def _finite(number: float, original: Any) -> float | None:
    if number != number:  # NaN: pandas' way of writing a missing float
        return None
    if math.isinf(number):
        raise ValueError(f"{original!r} is not a finite number")
    return number


def _floats(values: Sequence) -> list[float]:
    converted = list(map(float, values))
    # NaN and infinities make the sum non-finite (so may a huge sum: the careful path decides)
    if not math.isfinite(sum(converted)):
        raise ValueError
    return converted


def float_from_text(value: str | None) -> float | None:
    if _is_null_text(value):
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    return _finite(number, value)


def float_from_number(value: float | int | None) -> float | None:
    return None if value is None else _finite(float(value), value)


def _integral_float(value: str) -> int:
    """Exports write integer flags as 1.0."""
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an integer") from None
    if not number.is_integer():
        raise ValueError(f"{value!r} is not an integer")
    return int(number)


class _Integers:
    """Integer converters for one column type's range (smallint flags, or none for a jsonb or
    double precision column that holds integers)."""

    def __init__(self, bounds: tuple[int, int] | None) -> None:
        self.low, self.high = bounds or (-math.inf, math.inf)

    def in_range(self, number: int, original: Any) -> int:
        if not self.low <= number <= self.high:
            raise ValueError(f"{original!r} is out of range ({self.low} to {self.high})")
        return number

    def from_text(self, value: str | None) -> int | None:
        if _is_null_text(value):
            return None
        try:
            number = int(value)
        except ValueError:
            number = _integral_float(value)
        return self.in_range(number, value)

    def from_int(self, value: int | None) -> int | None:
        return None if value is None else self.in_range(value, value)

    def from_float(self, value: float | None) -> int | None:
        if value is None or value != value:
            return None
        if not value.is_integer():
            raise ValueError(f"{value!r} is not an integer")
        return self.in_range(int(value), value)

    def column(self, values: Sequence) -> list[int]:
        converted = list(map(int, values))
        if converted and (min(converted) < self.low or max(converted) > self.high):
            raise ValueError
        return converted


def _json_text(value: Any) -> bytes:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"cannot be stored as JSON ({exc})") from None
    if "\\u0000" in text:
        raise ValueError("holds a NUL character, which jsonb cannot store")
    return text.encode("utf-8", "strict")


_LITERAL_CONSTANTS = (str, int, float, bool, type(None))


def _is_json_like(node: ast.AST) -> bool:
    """Only dicts with string keys, lists, strings, numbers, booleans and None: no calls, no
    names, no sets or tuples."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, _LITERAL_CONSTANTS)
    if isinstance(node, ast.UnaryOp):
        return (
            isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        )
    if isinstance(node, ast.List):
        return all(map(_is_json_like, node.elts))
    if isinstance(node, ast.Dict):
        return all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys
        ) and all(map(_is_json_like, node.values))
    return False


def python_literal(text: str) -> Any:
    """The Python-dict notation some exports write for JSON (`{'rack1': 0}`): parsed as a syntax
    tree, checked to hold only JSON-like literals, then evaluated as a literal (never eval)."""
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ValueError(f"{text[:60]!r} is neither JSON nor a Python dict literal") from None
    if not _is_json_like(tree.body):
        raise ValueError(f"{text[:60]!r} holds something other than JSON-like literals")
    return ast.literal_eval(tree.body)


@lru_cache(maxsize=4096)
def json_from_text(value: str | None) -> bytes | None:
    """JSON or the Python-dict notation; fault maps repeat, so results are cached."""
    if _is_null_text(value):
        return None
    text = value.strip()
    if len(text) > MAX_JSON_CHARS:
        raise ValueError(f"holds {len(text)} characters of JSON (at most {MAX_JSON_CHARS})")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = python_literal(text)
    return None if parsed is None else _json_text(parsed)


def json_from_value(value: Any) -> bytes | None:
    return None if value is None else _json_text(value)


def _micros(moment: datetime) -> int:
    return (moment - PG_EPOCH) // ONE_MICROSECOND


def time_from_text(site_tz: tzinfo, column: str) -> Callable[[str | None], int]:
    """ISO 8601 with an offset, or naive in the site's timezone (api.params.parse_time), as
    microseconds since 2000-01-01 UTC. Rows of all racks share a second: cache."""

    @lru_cache(maxsize=1024)
    def convert(value: str | None) -> int:
        if value is None or not value.strip():
            raise ValueError("is empty (every row needs its time)")
        try:
            return _micros(parse_time(value, site_tz, column))
        except ProblemError:
            raise ValueError(
                f"{value!r} is not a time (ISO 8601, e.g. 2022-05-10 00:00:01+09:00, or "
                "without offset in the site's time zone)"
            ) from None

    return convert


def required(cell: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        converted = cell(value)
        if converted is None:
            raise ValueError("is empty (a key column needs a value)")
        return converted

    return convert


def _present(values: Sequence) -> list:
    if None in values:
        raise ValueError
    return list(values)


def _time_from_micros(value: int | None) -> int:
    if value is None:
        raise ValueError("is empty (every row needs its time)")
    return value


def _integer_json(cell: Callable[[Any], int | None]) -> Callable[[Any], bytes | None]:
    """Site 1 reports a communication fault as an integer flag in a column that is jsonb for the
    other sites: validate it as an integer, store it as a JSON number."""

    def convert(value: Any) -> bytes | None:
        number = cell(value)
        return None if number is None else str(number).encode()

    return convert


def make_converter(
    value_type: str,
    sql_type: str,
    kind: str,
    *,
    key: bool,
    site_tz: tzinfo,
    column: str,
    integer_bounds: tuple[int, int] | None,
) -> Converter | None:
    """The converter for one column, or None if values of this kind cannot become this column.

    value_type: time | float | integer | json (the catalog's logical type)
    kind: text | int | float | micros | object (what the reader delivers)"""
    if value_type == "time":
        if kind == "text":
            return Converter(time_from_text(site_tz, column))
        if kind == "micros":
            return Converter(_time_from_micros, _present)
        return None
    if value_type == "json":
        if kind == "text":
            return Converter(json_from_text)
        return Converter(json_from_value)
    if kind not in ("text", "int", "float"):
        return None
    if value_type == "float":
        if kind == "text":
            converter = Converter(float_from_text, memoised(_floats))
        else:
            converter = Converter(float_from_number, _floats)
    else:
        integers = _Integers(integer_bounds)
        cell = {"text": integers.from_text, "int": integers.from_int}.get(kind, integers.from_float)
        if sql_type == "jsonb":
            return Converter(_integer_json(cell))
        # a whole-column int() would truncate 1.5 to 1: floats go cell by cell
        fast = {"text": memoised(integers.column), "int": integers.column}.get(kind)
        converter = Converter(cell, fast)
    if key:
        # the fast paths never produce None (int(None) raises): only the cell path needs the check
        return Converter(required(converter.cell), converter.column)
    return converter
