"""`ess login`: create or update a database login in one of the platform's group roles
(ess_api for the API process, ess_analyst for a person). Idempotent, so a deployment can run it
on every start; the password comes from an environment variable, never from the command line
(which other users of the machine can see)."""

from __future__ import annotations

import argparse
import os
import sys

import psycopg
from psycopg import sql

from api.config import Settings
from api.db import connect
from api.engine import database

# the group roles of migration 0006: the API process, and a person (de-identified data only)
GROUP_ROLES = ("ess_api", "ess_analyst")


def ensure_login(conn: psycopg.Connection, name: str, group: str, password: str) -> str:
    """Create login `name` in `group`, or reset its password; returns what was done."""
    if group not in GROUP_ROLES:
        raise ValueError(f"group must be one of {', '.join(GROUP_ROLES)}")
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(name), sql.Literal(password)
        )
    )
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
    return f"login {name}: {'password updated' if exists else 'created'}, member of {group}"


def cmd_login(args: argparse.Namespace, settings: Settings) -> int:
    password = os.environ.get(args.password_env)
    if not password:
        print(f"ess login: set the password in ${args.password_env}", file=sys.stderr)
        return 2
    with database(settings) as url, connect(url) as conn:
        print(ensure_login(conn, args.name, args.role, password))
    return 0


def add_parser(sub) -> None:
    login = sub.add_parser(
        "login", help="create or update a database login in ess_api or ess_analyst"
    )
    login.add_argument("name", help="the login's name")
    login.add_argument("--role", required=True, choices=GROUP_ROLES)
    login.add_argument(
        "--password-env",
        default="ESS_LOGIN_PASSWORD",
        help="environment variable holding the password (default: ESS_LOGIN_PASSWORD)",
    )
