"""`ess deid apply | rotate | status`: generate, re-key and check the de-identified views."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import psycopg

from api.config import Settings
from api.database_roles.grants import grant_privileges
from api.db import connect
from api.deid.keys import DEV_KEY_FILE, configured_key, dev_key, new_key
from api.deid.names import DeidKeyError, load_rules
from api.deid.views import apply_views, stale_views
from api.engine import database


def after_migrate(conn: psycopg.Connection, settings: Settings) -> str:
    """What `ess migrate` does after the SQL files: the views when a key is configured, the
    role grants in any case."""
    key = configured_key(settings)
    if key is None:
        grant_privileges(conn, load_rules(conn).is_sensitive)
        return "de-identified views: not generated (no ESS_DEID_KEY; `ess run` makes one)"
    return apply_views(conn, key).summary()


def _key(settings: Settings) -> str:
    # in development the key under the data directory is made on first use
    return configured_key(settings) or dev_key(settings.data_dir)


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    key = _key(settings)
    with database(settings) as url, connect(url) as conn:
        print(apply_views(conn, key).summary())
    return 0


def cmd_rotate(args: argparse.Namespace, settings: Settings) -> int:
    key_file = args.key_file
    if key_file is None:
        if os.environ.get("ESS_DEID_KEY") or settings.production:
            print(
                "ess deid rotate: the key comes from ESS_DEID_KEY here; give --key-file to "
                "receive the new key, then put it into ESS_DEID_KEY",
                file=sys.stderr,
            )
            return 2
        key_file = settings.data_dir / DEV_KEY_FILE
    with database(settings) as url, connect(url) as conn:
        report = apply_views(conn, new_key(key_file))
    print(f"{report.summary()}; the new key is in {key_file} (mode 0600)")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    key = configured_key(settings)
    if key is None:
        print("no key configured (ESS_DEID_KEY, or the development key of `ess run`)")
        return 1
    with database(settings) as url, connect(url) as conn:
        stale = stale_views(conn, key)
    print(f"{len(stale)} view(s) out of date" + (f": {', '.join(stale)}" if stale else ""))
    return 1 if stale else 0


ACTIONS = {"apply": cmd_apply, "rotate": cmd_rotate, "status": cmd_status}


def cmd_deid(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return ACTIONS[args.action](args, settings)
    except DeidKeyError as exc:
        print(f"ess deid {args.action}: {exc}", file=sys.stderr)
        return 2


def add_parser(sub) -> None:
    deid = sub.add_parser(
        "deid", help="generate (apply), re-key (rotate) or check (status) the de-identified views"
    )
    deid.add_argument("action", choices=sorted(ACTIONS))
    deid.add_argument(
        "--key-file",
        type=Path,
        help="rotate: where to write the new key (default: the development key under .data/)",
    )
