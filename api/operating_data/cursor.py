"""Keyset cursors: the place of a row in the page order, opaque and tamper-evident.

A cursor is base64url(msgpack([version, direction, ts in microseconds, keys]) + MAC), the MAC
being the first 16 bytes of HMAC-SHA256 over the query's scope (relation, site, fixed series)
and the payload. A cursor therefore only opens pages of the query it was issued for, and a
changed byte is a 400, never a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from api.errors import bad_parameter

_VERSION = 1
_MAC_BYTES = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
AFTER = "after"  # the rows after the position: next page
BEFORE = "before"  # the rows before the position: previous page


@dataclass(frozen=True)
class Position:
    """A row's place in the page order: its time, then its unfixed series keys."""

    ts: datetime
    keys: tuple[int, ...] = ()


@dataclass(frozen=True)
class Cursor:
    direction: str  # AFTER | BEFORE
    position: Position


def _mac(key: bytes, scope: str, payload: bytes) -> bytes:
    digest = hmac.new(key, scope.encode() + b"\0" + payload, hashlib.sha256).digest()
    return digest[:_MAC_BYTES]


def encode_cursor(key: bytes, scope: str, cursor: Cursor) -> str:
    micros = (cursor.position.ts - _EPOCH) // timedelta(microseconds=1)
    payload = msgspec.msgpack.encode(
        [_VERSION, cursor.direction, micros, list(cursor.position.keys)]
    )
    return base64.urlsafe_b64encode(payload + _mac(key, scope, payload)).rstrip(b"=").decode()


def decode_cursor(key: bytes, scope: str, token: str, key_count: int) -> Cursor:
    invalid = bad_parameter(
        "cursor",
        "not a cursor of this query (altered, issued for another endpoint or site, or signed "
        "before the server restarted); start again without a cursor and follow the next links",
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, _mac(key, scope, payload)):
        raise invalid
    try:
        version, direction, micros, keys = msgspec.msgpack.decode(
            payload, type=tuple[int, str, int, list[int]]
        )
    except msgspec.DecodeError:
        raise invalid from None
    if version != _VERSION or direction not in (AFTER, BEFORE) or len(keys) != key_count:
        raise invalid
    return Cursor(direction, Position(_EPOCH + timedelta(microseconds=micros), tuple(keys)))
