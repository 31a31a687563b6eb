"""Which columns are sensitive, and the opaque names they are published under.

A column is sensitive when its name contains one of SENSITIVE_WORDS (the specification's rule) or
matches a vendor fault-code pattern of ess.deid_pattern (glob syntax, case-insensitive, optionally
for one component). A sensitive column is published as `<component prefix>_<hex>`, where hex is
HMAC-SHA256(key, column name) truncated to the shortest length, at least MIN_TOKEN_HEX, at which
no two names collide. The key never leaves Python: SQL only ever sees the resulting tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from api.catalog.model import Catalog

SENSITIVE_WORDS = ("fault", "warning", "protection")
# 48 bits: a collision among a few hundred names has a probability of about 1e-10, so the
# length (and every token) stays the same when a site is added
MIN_TOKEN_HEX = 12
MIN_KEY_LENGTH = 32
SOURCES = {"bank": "BMS", "rack": "BMS", "pcs": "PCS", "etc": "sensor"}


class DeidKeyError(ValueError):
    pass


def check_key(key: str) -> str:
    # tokens of publicly known column names allow an offline search for a weak key
    if len(key) < MIN_KEY_LENGTH:
        raise DeidKeyError(
            f"ESS_DEID_KEY must be at least {MIN_KEY_LENGTH} characters of random text "
            "(e.g. the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return key


@dataclass(frozen=True)
class Pattern:
    """A vendor fault-code pattern; component None means every component."""

    pattern: str
    component: str | None
    description: str

    def matches(self, component: str, name: str) -> bool:
        return (self.component in (None, component)) and fnmatchcase(
            name.lower(), self.pattern.lower()
        )


@dataclass(frozen=True)
class Rules:
    patterns: tuple[Pattern, ...]

    def description(self, component: str, name: str, value_type: str) -> str | None:
        """A description that does not reveal the name, or None when the column is not
        sensitive. Fault, warning and protection flags share one wording on purpose."""
        source = SOURCES.get(component, component)
        for pattern in self.patterns:
            if pattern.matches(component, name):
                return pattern.description
        if any(word in name.lower() for word in SENSITIVE_WORDS):
            if value_type == "json":
                return f"{source} fault/warning map, JSON object of 0/1 flags"
            if value_type == "integer":
                return f"{source} fault/warning/protection flag, 0/1"
            return f"{source} fault/warning/protection indicator"
        return None

    def is_sensitive(self, component: str, name: str) -> bool:
        return self.description(component, name, "integer") is not None


def load_rules(conn) -> Rules:
    rows = conn.execute(
        "SELECT pattern, component, description FROM ess.deid_pattern ORDER BY pattern"
    ).fetchall()
    return Rules(tuple(Pattern(*row) for row in rows))


def digest(key: str, name: str) -> str:
    return hmac.new(key.encode(), name.encode(), hashlib.sha256).hexdigest()


# not a column name (it has spaces), so the identifier is never a token's digest
_KEY_ID_MESSAGE = "ess de-identification key identifier"


def key_id(key: str) -> str:
    """A public identifier of the key (16 hex digits of an HMAC under it): the same key gives
    the same identifier, and it tells nothing about the key or the tokens."""
    return digest(key, _KEY_ID_MESSAGE)[:16]


def token_length(key: str, names: Iterable[str]) -> int:
    """The shortest truncation (>= MIN_TOKEN_HEX) under which distinct names stay distinct."""
    digests = {digest(key, n) for n in set(names)}
    for length in range(MIN_TOKEN_HEX, 65):
        if len({d[:length] for d in digests}) == len(digests):
            return length
    raise AssertionError("distinct names with equal HMAC-SHA256")  # pragma: no cover


@dataclass(frozen=True)
class Published:
    """One column of a de-identified view."""

    source: str  # the raw column (never shown to the public)
    name: str  # the published name: the raw name, or a token when sensitive
    value_type: str
    sql_type: str
    sensitive: bool
    description: str


def plain_description(value_type: str) -> str:
    return {
        "json": "JSON object, published unchanged",
        "integer": "status or identifier, published unchanged",
    }.get(value_type, "measured value, published unchanged")


@dataclass(frozen=True)
class Plan:
    """The de-identified columns of every site and component, from the catalog and one key."""

    token_hex: int
    columns: dict[tuple[int, str], tuple[Published, ...]]  # (site, component) -> columns


def plan(catalog: Catalog, rules: Rules, key: str) -> Plan:
    check_key(key)
    sensitive_names = [
        c.name
        for site in catalog.sites.values()
        for component, columns in site.columns.items()
        for c in columns
        if rules.is_sensitive(component, c.name)
    ]
    length = token_length(key, sensitive_names)
    columns: dict[tuple[int, str], tuple[Published, ...]] = {}
    for site in catalog.sites.values():
        for component, site_columns in site.columns.items():
            if not site_columns:
                continue
            prefix = catalog.token_prefixes[component]
            plain, tokens = [], []
            for c in site_columns:
                description = rules.description(component, c.name, c.value_type)
                if description is None:
                    plain.append(
                        Published(
                            c.name,
                            c.name,
                            c.value_type,
                            c.sql_type,
                            False,
                            plain_description(c.value_type),
                        )
                    )
                else:
                    token = f"{prefix}_{digest(key, c.name)[:length]}"
                    tokens.append(
                        Published(c.name, token, c.value_type, c.sql_type, True, description)
                    )
            # tokens in token order, not the vendor's: the raw catalog is public, and the
            # vendor's order would map each token back to its name by position
            published = (*plain, *sorted(tokens, key=lambda p: p.name))
            names = [p.name for p in published]
            if len(set(names)) != len(names):
                raise AssertionError(f"published names collide in site {site.site_id}")
            columns[(site.site_id, component)] = published
    return Plan(length, columns)
