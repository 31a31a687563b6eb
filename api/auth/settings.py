"""Access settings from the environment (documented in docs/deid-and-auth.md)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from api.auth.secrets import read_or_create_secret
from api.auth.tokens import SCOPE_RAW, TokenKeys, mint

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEV_SECRET_FILE = "jwt-secret"


class ConfigurationError(RuntimeError):
    """The server must not start with this configuration."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative")
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
    jwt_secret: str | None = field(default_factory=lambda: os.environ.get("ESS_JWT_SECRET") or None)
    jwt_public_key: str | None = field(default_factory=lambda: _pem("ESS_JWT_PUBLIC_KEY"))
    jwt_issuer: str | None = field(default_factory=lambda: os.environ.get("ESS_JWT_ISSUER") or None)
    jwt_audience: str | None = field(
        default_factory=lambda: os.environ.get("ESS_JWT_AUDIENCE") or None
    )
    # de-identified data and the site catalog need a token too (any scope of ours)
    public_requires_token: bool = field(default_factory=lambda: _flag("ESS_DEID_REQUIRE_TOKEN"))
    # anonymous requests per client: a bucket of `burst` refilled at `per_second`; 0 = off
    rate_limit_burst: int = field(default_factory=lambda: int(_number("ESS_RATE_LIMIT_BURST", 120)))
    rate_limit_per_second: float = field(
        default_factory=lambda: _number("ESS_RATE_LIMIT_PER_SECOND", 10)
    )
    # peers whose X-Forwarded-For is believed (reverse proxies); addresses or CIDR networks
    trusted_proxies: tuple[Network, ...] = field(
        default_factory=lambda: parse_networks(os.environ.get("ESS_TRUSTED_PROXIES", ""))
    )

    def token_keys(self, data_dir: Path, production: bool) -> TokenKeys:
        """The verification keys; in development the secret kept under the data directory
        (created by `ess run`) stands in for a missing ESS_JWT_SECRET."""
        secret = self.jwt_secret
        dev_file = data_dir / DEV_SECRET_FILE
        if secret is None and not production and dev_file.exists():
            secret = dev_file.read_text().strip()
        if production and not (secret or self.jwt_public_key):
            raise ConfigurationError(
                "ESS_ENV=production needs ESS_JWT_SECRET (HS256) or ESS_JWT_PUBLIC_KEY (RS256) "
                "to verify tokens"
            )
        if secret is not None and len(secret) < 32:
            raise ConfigurationError("ESS_JWT_SECRET must be at least 32 characters")
        return TokenKeys(secret, self.jwt_public_key, self.jwt_issuer, self.jwt_audience)


def dev_secret(data_dir: Path) -> str:
    """The development JWT secret under `data_dir` (created with mode 0600 on first use)."""
    return read_or_create_secret(Path(data_dir) / DEV_SECRET_FILE)


def development_token(settings, expires_in: timedelta = timedelta(days=7)) -> str:
    """A raw-scope token for every site, signed with the secret the server will use (for
    `make run` to print): ESS_JWT_SECRET if set, else the development secret."""
    secret = settings.access.jwt_secret or dev_secret(settings.data_dir)
    return mint(secret, [SCOPE_RAW], None, expires_in, subject="ess-run")
