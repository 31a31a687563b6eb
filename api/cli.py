"""The `ess` command line. Every command reads DATABASE_URL; without it the embedded engine is
used (started for the command, or the one already running on ESS_ENGINE_PORT)."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from api import export as export_command
from api.auth import command as token_command
from api.catalog.model import COMPONENTS
from api.cli_errors import EXIT_USAGE, CommandError, Context, explain
from api.config import ConfigurationError, Settings
from api.database_roles import logins
from api.db import connect, open_pool, server_is_embedded
from api.deid import command as deid_command
from api.deid.names import DeidKeyError
from api.demo import command as demo_command
from api.demo.generator import DemoError
from api.engine import EmbeddedEngine, EngineStopped, database, port_answers
from api.forecasting import command as forecast_command
from api.forecasting.train import ForecastError
from api.migrate import migrate


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
    from api.app import create_app
    from api.serve import check_port_free, serve, serve_workers

    check_port_free(args.host, args.port)
    if args.workers > 1:
        if not settings.database_url or server_is_embedded(settings.database_url):
            raise CommandError(
                "--workers needs DATABASE_URL of a TimescaleDB server: the embedded engine runs "
                "one query at a time in one session shared by every connection, so more API "
                "processes would only queue behind it (and share its session state); serve it "
                "with one process"
            )
        # the settings and keys each worker will read, checked once before any starts
        create_app(settings=settings)
        serve_workers("api.app:create_app", args.host, args.port, args.workers)
        return 0
    with database(settings) as url:
        app = create_app(settings=Settings(database_url=url))
        serve(app, args.host, args.port, engine_alive(settings))
    return 0


def engine_alive(settings: Settings) -> Callable[[], bool] | None:
    """What `ess serve` and `ess run` watch: the embedded engine's port, when they use it."""
    if settings.database_url:
        return None
    return lambda: port_answers(settings.engine_host, settings.engine_port)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """`make run`: migrate, de-identified views, demo data when the database holds no operating
    data yet, a development token, then serve. A second run reuses the data."""
    from api.app import create_app
    from api.auth import dev_secret, development_token
    from api.deid import apply_views, configured_key, dev_key
    from api.demo import DEFAULT_DEMO, install_demo
    from api.serve import check_port_free, serve

    check_port_free(args.host, args.port)
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
                install_demo(conn, settings.sql_dir)
                for written in demo_command.generate_run_demo(
                    conn, progress=lambda line: print(f"demo: {line}", flush=True)
                ):
                    demo_command.print_report(written, sys.stdout)
            training = forecast_command.missing_models(conn)
        dev_secret(settings.data_dir)
        print(
            BANNER.format(
                host=args.host,
                port=args.port,
                token=development_token(settings),
                psql="$DATABASE_URL" if settings.database_url else f"'{url}'",
                forecasts=TRAINING if training else TRAINED,
            ),
            flush=True,
        )
        if not settings.database_url:
            print(EMBEDDED_DURABILITY, flush=True)
        # the API serves at once; the models it lacks are trained meanwhile, once it listens
        serving = Settings(database_url=url)
        pool = open_pool(url, serving.pool_max_size, serving.statement_timeout_ms)
        try:
            with forecast_command.BackgroundTraining(url, pool, training, sys.stdout) as trainer:
                serve(
                    create_app(pool=pool, settings=serving),
                    args.host,
                    args.port,
                    engine_alive(settings),
                    on_started=trainer.start,
                )
        finally:
            pool.close()
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
  forecasts:  curl -s -H "Authorization: Bearer $TOKEN" \\
                'http://{host}:{port}/api/ess/stats/forecasting-models/operating-sites/2/'
              {forecasts}
Ctrl-C stops the server (and the embedded engine).
"""

TRAINING = """the models are being trained in the background (their report follows); until then
              that URL answers [] and the forecasts give the baselines ("model": "persistence",
              "version": null, no interval)"""
TRAINED = "the stored models' backtest (`ess forecast train` retrains them)"


EMBEDDED_DURABILITY = """\
Durability: the embedded engine survives its own crash (committed rows are handed to the operating
  system at commit), but it never fsyncs: a power loss or an operating-system crash can lose the
  last committed rows or damage the data directory. Keep data you cannot regenerate on a
  TimescaleDB server (DATABASE_URL=...); see README, Reliability.
"""


def cmd_engine(args: argparse.Namespace, settings: Settings) -> int:
    """Run the embedded engine in the foreground until Ctrl-C; fail when its process ends."""
    engine = EmbeddedEngine(settings.engine_data_dir, settings.engine_host, settings.engine_port)
    engine.start()
    print(f"engine: ready, DATABASE_URL={engine.url}", flush=True)
    asked_to_stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: asked_to_stop.set())
    try:
        while not asked_to_stop.wait(1.0):
            if engine.process.poll() is not None:
                raise EngineStopped(
                    f"the embedded engine stopped ({engine.exit_status()}; log: {engine.log_path})"
                )
    finally:
        engine.stop()
    return 0


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    from api.loader.command import UsageError, check_files, run

    try:
        check_files(args.files)  # before an engine is started or a connection opened
    except UsageError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
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
    parser.add_argument(
        "--debug",
        action="store_true",
        default=os.environ.get("ESS_DEBUG", "") not in ("", "0"),
        help="print the traceback of a failure (or set ESS_DEBUG=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply migrations, then re-apply functions and views")

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--workers",
        type=positive,
        default=1,
        help="API processes sharing the port (a TimescaleDB server only; default 1)",
    )

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
    export_command.add_parser(sub)
    forecast_command.add_parser(sub)
    return parser


COMMANDS = {"migrate": cmd_migrate, "serve": cmd_serve, "engine": cmd_engine, "load": cmd_load}
COMMANDS |= {"run": cmd_run, "login": logins.cmd_login}
COMMANDS |= {"token": token_command.cmd_token, "deid": deid_command.cmd_deid}
COMMANDS |= {"demo": demo_command.cmd_demo, "forecast": forecast_command.cmd_forecast}
COMMANDS |= {"export": export_command.cmd_export}


# bad arguments found after parsing: exit status 2, like argparse's own
USAGE_ERRORS = (DeidKeyError, ConfigurationError, DemoError, ForecastError)


def main(argv: list[str] | None = None) -> int:
    """Run a command; a failure ends in one or two sentences on standard error and a non-zero
    exit status (see api.cli_errors), the traceback only with --debug."""
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    settings = None
    try:
        settings = Settings()
        return COMMANDS[args.command](args, settings)
    except (Exception, KeyboardInterrupt) as exc:
        context = Context(
            command=shlex.join(["ess", *argv]),
            database_url=settings and (settings.database_url or settings.engine_url),
            embedded=settings is not None and not settings.database_url,
        )
        failure = explain(exc, context, USAGE_ERRORS)
        if args.debug:
            traceback.print_exc()
        print(f"ess {args.command}: {failure.message}", file=sys.stderr)
        return failure.status


if __name__ == "__main__":
    sys.exit(main())
