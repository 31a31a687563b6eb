"""The `ess` command line. Every command reads DATABASE_URL; without it the embedded engine is
used (started for the command, or the one already running on ESS_ENGINE_PORT)."""

from __future__ import annotations

import argparse
import sys

from api.auth import command as token_command
from api.auth import logins
from api.auth.settings import ConfigurationError
from api.catalog.model import COMPONENTS
from api.config import Settings
from api.db import connect
from api.deid import command as deid_command
from api.deid.names import DeidKeyError
from api.demo import command as demo_command
from api.demo.generator import DemoError
from api.engine import EngineError, database
from api.migrate import MigrationError, migrate


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url, connect(url) as conn:
        report = migrate(conn, settings.sql_dir)
        deid_summary = deid_command.after_migrate(conn, settings)
    print(
        f"migrate: {len(report.applied)} migration(s) applied"
        + (f" ({', '.join(report.applied)})" if report.applied else "")
        + f", {len(report.reapplied)} idempotent file(s) re-applied"
    )
    print(deid_summary)
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app

    with database(settings) as url:
        settings = Settings(database_url=url)
        uvicorn.run(create_app(settings=settings), host=args.host, port=args.port, log_level="info")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """`make run`: migrate, de-identified views, demo data when the database holds no operating
    data yet, a development token, then serve. A second run reuses the data."""
    import uvicorn

    from api.app import create_app
    from api.auth import dev_secret, development_token
    from api.deid import apply_views, configured_key, dev_key
    from api.demo import DEFAULT_DEMO, generate

    with database(settings) as url:
        with connect(url) as conn:
            report = migrate(conn, settings.sql_dir)
            print(f"migrate: {len(report.applied)} migration(s) applied")
            print(
                apply_views(conn, configured_key(settings) or dev_key(settings.data_dir)).summary()
            )
            if conn.execute(OPERATING_DATA_EXISTS).fetchone()[0]:
                print("demo: the database already holds operating data; not generating any")
            else:
                demo = DEFAULT_DEMO
                print(
                    f"demo: generating {demo.days} day(s) from {demo.start} at "
                    f"{demo.interval.total_seconds():g} s for sites "
                    f"{', '.join(map(str, demo.sites))} (about 20-40 s on the embedded engine)"
                )
                result = generate(conn, progress=lambda line: print(f"demo: {line}", flush=True))
                demo_command.print_report(result, sys.stdout)
        dev_secret(settings.data_dir)
        print(
            BANNER.format(
                host=args.host,
                port=args.port,
                token=development_token(settings),
                psql="$DATABASE_URL" if settings.database_url else f"'{url}'",
            )
        )
        uvicorn.run(
            create_app(settings=Settings(database_url=url)),
            host=args.host,
            port=args.port,
            log_level="info",
        )
    return 0


OPERATING_DATA_EXISTS = """
SELECT EXISTS (SELECT FROM ess.rack) OR EXISTS (SELECT FROM ess.bank)
    OR EXISTS (SELECT FROM ess.pcs) OR EXISTS (SELECT FROM ess.etc)
"""

BANNER = """
ESS data platform on http://{host}:{port}/
  web UI:     http://{host}:{port}/ui/  (paste the token below for raw data)
  API docs:   http://{host}:{port}/schema  (OpenAPI: /schema/openapi.json)
  sites:      curl -s http://{host}:{port}/api/ess/operating-sites/
  public:     curl -s 'http://{host}:{port}/api/ess/di/operating-sites/2/banks/1/racks/1/?date=2023-04-10&page_size=5'
  raw data:   export TOKEN={token}
              curl -s -H "Authorization: Bearer $TOKEN" \\
                'http://{host}:{port}/api/ess/operating-sites/2/banks/1/racks/1/?date=2023-04-10&page_size=5'
  psql:       psql {psql}
Ctrl-C stops the server (and the embedded engine).
"""


def cmd_engine(args: argparse.Namespace, settings: Settings) -> int:
    """Run the embedded engine in the foreground until Ctrl-C."""
    import signal

    from api.engine import EmbeddedEngine

    engine = EmbeddedEngine(settings.engine_data_dir, settings.engine_host, settings.engine_port)
    engine.start()
    print(f"engine: ready, DATABASE_URL={engine.url}", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        engine.stop()
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from api.loader.command import run

    with database(settings) as url, connect(url) as conn:
        return run(
            conn,
            args.site,
            args.component,
            args.files,
            refresh=args.refresh,
            batch_rows=args.batch_rows,
            max_errors=args.max_errors,
        )


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ess", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply migrations, then re-apply functions and views")

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    sub.add_parser("engine", help="run the embedded TimescaleDB engine in the foreground")

    run = sub.add_parser("run", help="migrate, load demo data if empty, print a token, serve")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)

    load = sub.add_parser(
        "load",
        help="load CSV, Parquet or feather files into a component table (all or nothing per file)",
    )
    load.add_argument("--site", type=int, required=True, help="site id (see ess.site)")
    load.add_argument("--component", required=True, choices=COMPONENTS)
    load.add_argument("files", nargs="+", metavar="FILE")
    load.add_argument(
        "--no-refresh",
        dest="refresh",
        action="store_false",
        help="do not refresh the continuous aggregates over the loaded time range",
    )
    load.add_argument(
        "--max-errors", type=positive, default=20, help="stop checking after N bad rows"
    )
    load.add_argument(
        "--batch-rows", type=positive, help="rows per INSERT (default: about 2 MB of data)"
    )
    token_command.add_parser(sub)
    logins.add_parser(sub)
    deid_command.add_parser(sub)
    demo_command.add_parser(sub)
    return parser


COMMANDS = {"migrate": cmd_migrate, "serve": cmd_serve, "engine": cmd_engine, "load": cmd_load}
COMMANDS |= {"run": cmd_run, "login": logins.cmd_login}
COMMANDS |= {"token": token_command.cmd_token, "deid": deid_command.cmd_deid}
COMMANDS |= {"demo": demo_command.cmd_demo}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args, Settings())
    except (EngineError, MigrationError, DeidKeyError, ConfigurationError, DemoError) as exc:
        print(f"ess {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
