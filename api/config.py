"""Settings from the environment. Secrets never come from files in the repository."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from api.auth.settings import AccessSettings

REPO_ROOT = Path(__file__).resolve().parent.parent
URL_FORM = "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


class DatabaseUrlError(ValueError):
    pass


def check_database_url(url: str) -> None:
    """Refuse a DATABASE_URL that libpq cannot parse, naming the expected form."""
    if "://" in url and not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseUrlError(
            f"DATABASE_URL must start with postgresql:// (the form is {URL_FORM})"
        )
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip()
        raise DatabaseUrlError(
            f"DATABASE_URL is not a connection URL ({reason}); the form is {URL_FORM}"
        ) from None
    for port in str(params.get("port", "")).split(","):
        if port and not port.isdigit():
            raise DatabaseUrlError(
                f"DATABASE_URL: the port {port!r} is not a number; the form is {URL_FORM}"
            )


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SystemExit(f"{name} must be an integer, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    # None means: use (or start) the embedded engine
    database_url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    data_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("ESS_DATA_DIR", REPO_ROOT / ".data"))
    )
    engine_host: str = "127.0.0.1"
    engine_port: int = field(default_factory=lambda: _int("ESS_ENGINE_PORT", 55432))
    sql_dir: Path = field(
        default_factory=lambda: Path(os.environ.get("ESS_SQL_DIR", REPO_ROOT / "sql"))
    )
    # upper bound; the embedded engine always gets 1 (it has a single backend session)
    pool_max_size: int = field(default_factory=lambda: _int("ESS_POOL_MAX_SIZE", 8))
    statement_timeout_ms: int = field(
        default_factory=lambda: _int("ESS_STATEMENT_TIMEOUT_MS", 30000)
    )

    # "production" makes missing secrets (JWT key, de-identification key) fatal at startup
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
