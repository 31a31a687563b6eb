"""What `ess` prints when a command fails: one or two sentences naming the cause and the fix, and
an exit status (1 a failure, 2 bad usage or configuration, 130 interrupted). `api.cli.main` sends
every exception here; the traceback is printed only with --debug or ESS_DEBUG=1."""

from __future__ import annotations

import getpass
import re
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from api.config import DatabaseUrlError
from api.engine import EngineError, EngineStopped
from api.migrate import MigrationError, timescaledb_missing

EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

OWNER_COMMANDS = "`ess migrate`, `ess load`, `ess demo`, `ess deid` and `ess login`"


class CommandError(Exception):
    """A failure a command diagnosed itself; the message is what the user reads."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Failure:
    message: str
    status: int = EXIT_FAILURE


@dataclass(frozen=True)
class Context:
    """What the messages name: the command as typed and the database it used."""

    command: str
    database_url: str | None
    embedded: bool

    @property
    def where(self) -> str:
        params = _conninfo(self.database_url)
        host = params.get("host") or params.get("hostaddr") or "the local socket"
        place = f"{host}:{params.get('port') or 5432}"
        return f"the embedded engine at {place}" if self.embedded else f"the database at {place}"

    @property
    def user(self) -> str:
        return _conninfo(self.database_url).get("user") or getpass.getuser()

    def again(self) -> str:
        return f"Run `{self.command}` again"


def _conninfo(url: str | None) -> dict:
    try:
        return conninfo_to_dict(url or "")
    except psycopg.ProgrammingError:
        return {}


def _closed(c: Context, m: re.Match) -> str:
    return (
        f"{c.where} closed the connection while the command ran. {c.again()} once the server is "
        "back (what was stored before stays stored)."
    )


# Connection-level failures are told apart by libpq's message (they carry no SQLSTATE, or a
# generic one). First match wins.
CONNECTION_FAILURES: list[tuple[str, Callable[[Context, re.Match], str]]] = [
    (
        r"Connection refused",
        lambda c, m: (
            f"cannot connect to {c.where}: connection refused. Start the server, or fix "
            "the host and port in DATABASE_URL."
        ),
    ),
    (
        r"failed to resolve host '([^']*)'|could not translate host name \"([^\"]*)\"",
        lambda c, m: (
            f"cannot connect to {c.where}: unknown host "
            f"{m.group(1) or m.group(2)!r}. Fix the host name in DATABASE_URL."
        ),
    ),
    (
        r"timeout expired",
        lambda c, m: (
            f"cannot connect to {c.where}: no answer within the connect timeout. Check that "
            "the server is up and reachable from here, or raise connect_timeout in DATABASE_URL."
        ),
    ),
    (
        r"password authentication failed",
        lambda c, m: (
            f"{c.where} refused the password of user {c.user!r}. Fix the password in DATABASE_URL."
        ),
    ),
    (
        r"no password supplied",
        lambda c, m: (
            f"{c.where} asks for a password for user {c.user!r}. Put it into "
            "DATABASE_URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE)."
        ),
    ),
    (
        r'role "([^"]*)" does not exist',
        lambda c, m: (
            f"{c.where} has no login {m.group(1)!r}. Fix the user in DATABASE_URL, or "
            "create the login."
        ),
    ),
    (
        r'database "([^"]*)" does not exist',
        lambda c, m: (
            f"{c.where} has no database {m.group(1)!r}. Create it (createdb "
            f"{m.group(1)}), or fix the database name in DATABASE_URL."
        ),
    ),
    (
        r"no pg_hba\.conf entry",
        lambda c, m: (
            f"{c.where} does not accept this user from this host (pg_hba.conf). Ask its "
            "administrator for access, or fix DATABASE_URL."
        ),
    ),
    (
        r'extension "timescaledb" must be preloaded',
        lambda c, m: (
            f"TimescaleDB is installed on {c.where} but not preloaded. Add timescaledb to "
            "shared_preload_libraries in the server's postgresql.conf and restart it."
        ),
    ),
    (r"server closed the connection unexpectedly|consuming input failed", _closed),
    (r"connection is lost|the connection is closed|terminating connection", _closed),
]

TIMESCALEDB_MISSING = re.compile(
    r'extension "timescaledb" is not available|timescaledb\.control": No such file'
)
NOT_MIGRATED = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.InvalidSchemaName,
    psycopg.errors.UndefinedFunction,
)


def explain(exc: BaseException, context: Context, usage_errors: tuple[type, ...] = ()) -> Failure:
    """The message and exit status for an exception that ended a command."""
    if isinstance(exc, BaseExceptionGroup):  # anyio task groups (the web server's startup)
        return explain(exc.exceptions[0], context, usage_errors)
    if isinstance(exc, KeyboardInterrupt):
        return Failure("interrupted", EXIT_INTERRUPTED)
    if isinstance(exc, CommandError):
        return Failure(str(exc), exc.status)
    if isinstance(exc, (DatabaseUrlError, *usage_errors)):
        return Failure(str(exc), EXIT_USAGE)
    if isinstance(exc, EngineStopped):
        return Failure(f"{exc}. {context.again()} (it starts the engine again).")
    if isinstance(exc, (EngineError, MigrationError)):
        return Failure(str(exc))
    if isinstance(exc, psycopg.Error):  # psycopg_pool's PoolTimeout too
        return Failure(_database_message(exc, context))
    if isinstance(exc, OSError):
        return Failure(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
    return Failure(
        f"unexpected {type(exc).__name__}: {exc}. Run `ess --debug ...` for the traceback, and "
        "report it."
    )


def _database_message(exc: psycopg.Error, c: Context) -> str:
    text = str(exc)
    first_line = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return (
            f"the login {c.user!r} may not do this on {c.where}: {first_line}. {OWNER_COMMANDS} "
            "need the login that owns the ESS schema (the one that ran the first `ess migrate`) "
            "or a superuser; logins in ess_api and ess_analyst only read."
        )
    if TIMESCALEDB_MISSING.search(text):
        return timescaledb_missing(c.where)
    if isinstance(exc, NOT_MIGRATED):
        return (
            f"{c.where} does not hold this version's ESS schema ({first_line}). Run `ess migrate`."
        )
    if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) or (
        exc.sqlstate or ""
    ).startswith(("08", "57P")):
        for pattern, message in CONNECTION_FAILURES:
            if match := re.search(pattern, text):
                return message(c, match)
        return f"cannot use {c.where}: {first_line}"
    return f"{c.where} reported an error: {first_line}"
