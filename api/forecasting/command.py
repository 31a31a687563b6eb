"""`ess forecast train [--site S] [--until YYYY-MM-DD] [--days N]` and `ess forecast status`."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import date
from typing import IO

import msgspec
import psycopg
from psycopg_pool import ConnectionPool

from api.catalog.model import Catalog, Site, load_catalog
from api.config import Settings
from api.db import connect
from api.engine import database
from api.errors import ProblemError
from api.forecasting.stored import StoredModelSummary, current_models
from api.forecasting.targets import TARGETS, Target
from api.forecasting.train import (
    MIN_DAYS,
    Connect,
    Fitted,
    ForecastError,
    fit_site,
    one_connection,
    store,
)
from api.params import parse_date

DEFAULT_DAYS = 8
RACK_SITES_SQL = "SELECT DISTINCT site_id FROM ess.rack_1d ORDER BY 1"
# how long stopping `ess run` waits for the training's step under way (a read, a fit)
STOP_WAIT_S = 10.0
STORED_TARGETS_SQL = "SELECT DISTINCT site_id, forecast_target FROM ess.forecast_model"


def add_parser(sub: argparse._SubParsersAction) -> None:
    forecast = sub.add_parser("forecast", help="train and list the forecast models")
    actions = forecast.add_subparsers(dest="action", required=True)
    train = actions.add_parser(
        "train",
        help="fit the models per site and target, backtest them, store a new version",
    )
    train.add_argument("--site", type=int, help="one site (default: every site with rack data)")
    train.add_argument("--until", help="last local day of the window (default: the last data)")
    train.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help="local days (default: %(default)s)"
    )
    actions.add_parser("status", help="list the newest model of every site and target")


def cmd_forecast(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url, connect(url) as conn:
        return run(conn, args)


def run(conn: psycopg.Connection, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    if args.action == "status":
        print_models(current_models(conn, None), out)
        return 0
    if args.days < MIN_DAYS:
        raise ForecastError(f"--days: the backtest needs at least {MIN_DAYS} days")
    catalog = load_catalog(conn)
    try:
        until = parse_date(args.until, "--until") if args.until else None
        sites = [catalog.require_site(args.site)] if args.site is not None else None
    except ProblemError as exc:
        raise ForecastError(exc.detail) from None
    sites = sites or sites_with_data(conn, catalog)
    work = [(site, TARGETS) for site in sites]
    train_sites(one_connection(conn), work, until, args.days, out)
    return 0


def sites_with_data(conn: psycopg.Connection, catalog: Catalog) -> list[Site]:
    return [catalog.require_site(s) for (s,) in conn.execute(RACK_SITES_SQL)]


# what to train: a site and the targets to fit for it
Work = list[tuple[Site, tuple[Target, ...]]]


def missing_models(conn: psycopg.Connection) -> Work:
    """The targets of every site with rack data that has no stored model yet (`ess run` trains
    them: all of them after a fresh demo, none on a rerun, those a stopped training left)."""
    stored = set(conn.execute(STORED_TARGETS_SQL).fetchall())
    work = [
        (site, tuple(t for t in TARGETS if (site.site_id, t.name) not in stored))
        for site in sites_with_data(conn, load_catalog(conn))
    ]
    return [(site, targets) for site, targets in work if targets]


def train_sites(
    connect: Connect,
    work: Work,
    until: date | None,
    days: int,
    out: IO[str],
    stopping: threading.Event | None = None,
) -> bool:
    """Fit and store each model, printing its report; False when `stopping` was set (the model
    fitted when it was is not stored)."""
    for site, targets in work:
        try:
            for fitted in fit_site(connect, site, until, days, targets):
                if stopping is not None and stopping.is_set():
                    return False
                with connect() as conn:
                    store(conn, fitted)
                print_fitted(fitted, out)
        except ForecastError as exc:
            print(f"forecast: site {site.site_id} not trained: {exc}", file=out, flush=True)
    return True


def train_all(
    connect: Connect,
    out: IO[str],
    work: Work | None = None,
    stopping: threading.Event | None = None,
) -> None:
    """`make run` after its demo data: `work` (default every target of every site with rack
    data), the default window."""
    began = time.perf_counter()
    if work is None:
        with connect() as conn:
            work = [(site, TARGETS) for site in sites_with_data(conn, load_catalog(conn))]
    if train_sites(connect, work, None, DEFAULT_DAYS, out, stopping):
        print(f"forecast: trained in {time.perf_counter() - began:.1f} s", file=out, flush=True)
    else:
        print(
            "forecast: training stopped; the models stored so far are whole, the next `ess run` "
            "trains the missing ones",
            file=out,
            flush=True,
        )


class BackgroundTraining:
    """`ess run`'s training of the missing models while the API serves, in a thread. Every read
    is a short statement and each model is stored by one (fit_site, store), so no transaction
    stays open while models are fitted. On the embedded engine it takes the API's pool (of one
    connection) for each statement: the engine runs every connection's protocol messages in its
    one session, and two clients' statements interleaved there break each other ("portal does
    not exist"). On a server it has a connection of its own (no statement timeout).

    Leaving the `with` block asks it to stop after the model being fitted (not stored) and waits
    STOP_WAIT_S for it. `start` once the API listens: its startup would otherwise wait for the
    first read."""

    def __init__(self, url: str, pool: ConnectionPool, work: Work, out: IO[str]) -> None:
        self.url, self.pool, self.work, self.out = url, pool, work, out
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._train, name="forecast-training", daemon=True)

    def _train(self) -> None:
        try:
            if self.pool.embedded:  # type: ignore[attr-defined]
                train_all(self.pool.connection, self.out, self.work, self.stopping)
                return
            with connect(self.url) as conn:
                train_all(one_connection(conn), self.out, self.work, self.stopping)
        except Exception as exc:  # the API keeps serving; the engine's loss ends it on its own
            print(f"forecast: training failed: {exc}", file=sys.stderr, flush=True)

    def start(self) -> None:
        if self.work and not self.stopping.is_set():
            self.thread.start()

    def __enter__(self) -> BackgroundTraining:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        if not self.thread.is_alive():
            return
        self.thread.join(STOP_WAIT_S)
        if self.thread.is_alive():
            # in a long read or fit: nothing of it is stored (the thread stores nothing once
            # stopping is set, and a read writes nothing); the engine stops under it
            print(
                f"forecast: training stopped after {STOP_WAIT_S:g} s in the middle of a read or "
                "a fit; nothing of it is stored, the next `ess run` trains the missing models",
                file=self.out,
                flush=True,
            )


def print_fitted(fitted: Fitted, out: IO[str]) -> None:
    """In one write: a server's log lines do not land inside the table."""
    print(
        f"forecast: site {fitted.site} {fitted.target} v{fitted.version} "
        f"({fitted.train_start:%Y-%m-%d} to {fitted.train_end:%Y-%m-%d}, "
        f"{fitted.seconds:.1f} s): serves {fitted.chosen_model}\n"
        + _table(fitted.metrics, fitted.chosen_model),
        file=out,
        flush=True,
    )


def _table(metrics: dict[str, dict], chosen: str) -> str:
    """One line per model; * marks the one served."""
    lines = [f"  {'model':<15}{'MAE':>10}{'RMSE':>10}{'skill':>8}{'coverage':>10}{'n':>8}"]
    for name, m in metrics.items():
        note = " *" if name == chosen else ""
        if m["skill"] is not None and m["skill"] <= 0 and name != "persistence":
            note += " (does not beat persistence)"
        lines.append(
            f"  {name:<15}{_num(m['mae'])}{_num(m['rmse'])}{_num(m['skill'], 8, 3)}"
            f"{_num(m['coverage'], 10, 3)}{m['n']:>8}{note}"
        )
    return "\n".join(lines)


def _num(value: float | None, width: int = 10, digits: int = 4) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def print_models(models: list[StoredModelSummary], out: IO[str]) -> None:
    if not models:
        print("forecast: no stored models (ess forecast train)", file=out)
    for model in models:
        print(
            f"forecast: site {model.operating_site} {model.target} {model.version} trained "
            f"{model.trained_at:%Y-%m-%d %H:%M} on {model.train_start:%Y-%m-%d} to "
            f"{model.train_end:%Y-%m-%d}: serves {model.model}",
            file=out,
        )
        metrics = {n: msgspec.structs.asdict(m) for n, m in model.metrics.items()}
        print(_table(metrics, model.model), file=out)
