"""The keys that verify and sign bearer tokens: ESS_JWT_SECRET / ESS_JWT_PUBLIC_KEY, or in
development a secret kept under the data directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from api.auth.tokens import SCOPE_RAW, TokenKeys, mint
from api.config import ConfigurationError, Settings
from api.secret_files import read_or_create_secret

DEV_SECRET_FILE = "jwt-secret"


def token_keys(settings: Settings) -> TokenKeys:
    """The verification keys; in development the secret kept under the data directory
    (created by `ess run`) stands in for a missing ESS_JWT_SECRET."""
    access = settings.access
    secret = access.jwt_secret
    dev_file = settings.data_dir / DEV_SECRET_FILE
    if secret is None and not settings.production and dev_file.exists():
        secret = dev_file.read_text().strip()
    if settings.production and not (secret or access.jwt_public_key):
        raise ConfigurationError(
            "ESS_ENV=production needs ESS_JWT_SECRET (HS256) or ESS_JWT_PUBLIC_KEY (RS256) "
            "to verify tokens"
        )
    if secret is not None and len(secret) < 32:
        raise ConfigurationError("ESS_JWT_SECRET must be at least 32 characters")
    return TokenKeys(secret, access.jwt_public_key, access.jwt_issuer, access.jwt_audience)


def dev_secret(data_dir: Path) -> str:
    """The development JWT secret under `data_dir` (created with mode 0600 on first use)."""
    return read_or_create_secret(Path(data_dir) / DEV_SECRET_FILE)


def development_token(settings: Settings, expires_in: timedelta = timedelta(days=7)) -> str:
    """A raw-scope token for every site, signed with the secret the server will use (for
    `make run` to print): ESS_JWT_SECRET if set, else the development secret."""
    secret = settings.access.jwt_secret or dev_secret(settings.data_dir)
    return mint(secret, [SCOPE_RAW], None, expires_in, subject="ess-run")
