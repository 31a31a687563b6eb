"""Settings from the environment. Secrets never come from files in the repository.

The bottom layer: imports nothing of the API (the access settings are read here, and checked by
api/auth, which sits above)."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

REPO_ROOT = Path(__file__).resolve().parent.parent
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


class DatabaseUrlError(ValueError):
    pass


def check_database_url(url: str, variable: str = "DATABASE_URL") -> None:
    """Refuse a URL (of environment `variable`) that libpq cannot parse, naming the form."""
    if "://" in url and not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseUrlError(f"{variable} must start with postgresql:// (the form is {URL_FORM})")
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip()
        raise DatabaseUrlError(
            f"{variable} is not a connection URL ({reason}); the form is {URL_FORM}"
        ) from None
    for port in str(params.get("port", "")).split(","):
        if port and not port.isdigit():
            raise DatabaseUrlError(
                f"{variable}: the port {port!r} is not a number; the form is {URL_FORM}"
            )


def read_database_urls(text: str) -> tuple[str, ...]:
    """DATABASE_READ_URL: URLs separated by spaces, or by commas before `postgresql://` (a
    comma inside one URL separates the hosts of libpq's multi-host form)."""
    urls = tuple(u for u in re.split(r"\s+|,(?=\s*postgres(?:ql)?://)", text) if u)
    for url in urls:
        try:
            check_database_url(url, "DATABASE_READ_URL")
        except DatabaseUrlError as exc:
            raise ConfigurationError(str(exc)) from None
    return urls


class ConfigurationError(RuntimeError):
    """The server must not start with this configuration."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def env_number(name: str, default, kind: type = float, minimum: float = 0):
    """The number (`kind` int or float) in environment variable `name`, else `default`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise ConfigurationError(f"{name} must be {what}, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_networks(text: str) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(p.strip()) for p in text.split(",") if p.strip())
    except ValueError as exc:
        raise ConfigurationError(f"ESS_TRUSTED_PROXIES: {exc}") from None


def _pem(name: str) -> str | None:
    """A PEM key given inline (newlines may be written as \\n) or as @/path/to/file."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if value.startswith("@"):
        return Path(value[1:]).read_text()
    return value.replace("\\n", "\n")


@dataclass(frozen=True)
class AccessSettings:
    """Access control from the environment (documented in docs/deid-and-auth.md)."""

    jwt_secret: str | None = field(default_factory=lambda: os.environ.get("ESS_JWT_SECRET") or None)
    jwt_public_key: str | None = field(default_factory=lambda: _pem("ESS_JWT_PUBLIC_KEY"))
    jwt_issuer: str | None = field(default_factory=lambda: os.environ.get("ESS_JWT_ISSUER") or None)
    jwt_audience: str | None = field(
        default_factory=lambda: os.environ.get("ESS_JWT_AUDIENCE") or None
    )
    # de-identified data and the site catalog need a token too (any scope of ours)
    public_requires_token: bool = field(default_factory=lambda: _flag("ESS_DEID_REQUIRE_TOKEN"))
    # anonymous requests per client: a bucket of `burst` refilled at `per_second`; 0 = off
    rate_limit_burst: int = field(
        default_factory=lambda: env_number("ESS_RATE_LIMIT_BURST", 120, int)
    )
    rate_limit_per_second: float = field(
        default_factory=lambda: env_number("ESS_RATE_LIMIT_PER_SECOND", 10)
    )
    # peers whose X-Forwarded-For is believed (reverse proxies); addresses or CIDR networks
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: parse_networks(os.environ.get("ESS_TRUSTED_PROXIES", ""))
    )


@dataclass(frozen=True)
class Settings:
    # None means: use (or start) the embedded engine
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    # read replicas for the read endpoints; migrations, loads and refreshes use database_url
    read_urls: tuple[str, ...] = field(
        default_factory=lambda: read_database_urls(os.environ.get("DATABASE_READ_URL", ""))
    )
    # a replica further behind than this serves no reads until it caught up
    replica_max_lag_s: float = field(
        default_factory=lambda: env_number("ESS_REPLICA_MAX_LAG_SECONDS", 30.0)
    )
    replica_check_interval_s: float = field(
        default_factory=lambda: env_number("ESS_REPLICA_CHECK_SECONDS", 2.0, minimum=0.1)
    )
    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("ESS_DATA_DIR", REPO_ROOT / ".data"))
    )
    engine_host: str = "127.0.0.1"
    engine_port: int = field(default_factory=lambda: env_number("ESS_ENGINE_PORT", 55432, int, 1))
    sql_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("ESS_SQL_DIR", REPO_ROOT / "sql"))
    )
    # upper bound; the embedded engine always gets 1 (it has a single backend session)
    pool_max_size: int = field(default_factory=lambda: env_number("ESS_POOL_MAX_SIZE", 8, int, 1))
    statement_timeout_ms: int = field(
        default_factory=lambda: env_number("ESS_STATEMENT_TIMEOUT_MS", 30000, int)
    )

    # signs what the server hands out and takes back (paging cursors, download links): every
    # process and instance given the same key accepts what any of them signed
    signing_key: str | None = field(
        default_factory=lambda: os.environ.get("ESS_SIGNING_KEY") or None
    )
    # "production" makes missing secrets (JWT, signing and de-identification keys) fatal at
    # startup
    environment: str = field(default_factory=lambda: os.environ.get("ESS_ENV", "development"))
    access: AccessSettings = field(default_factory=AccessSettings)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def engine_data_dir(self) -> Path:
        return self.data_dir / "engine"

    @property
    def engine_url(self) -> str:
        return (
            f"postgresql://postgres:postgres@{self.engine_host}:{self.engine_port}/postgres"
            "?sslmode=disable"
        )
