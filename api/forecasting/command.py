"""`ess forecast train [--site S] [--until YYYY-MM-DD] [--days N]` and `ess forecast status`."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from typing import IO

import msgspec
import psycopg

from api.catalog.model import Catalog, Site, load_catalog
from api.config import Settings
from api.db import connect
from api.engine import database
from api.errors import ProblemError
from api.forecasting.stored import StoredModelSummary, current_models
from api.forecasting.train import MIN_DAYS, Fitted, ForecastError, train_site
from api.params import parse_date

DEFAULT_DAYS = 8
RACK_SITES_SQL = "SELECT DISTINCT site_id FROM ess.rack_1d ORDER BY 1"


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
    train_sites(conn, sites or sites_with_data(conn, catalog), until, args.days, out)
    return 0


def sites_with_data(conn: psycopg.Connection, catalog: Catalog) -> list[Site]:
    return [catalog.require_site(s) for (s,) in conn.execute(RACK_SITES_SQL)]


def train_sites(
    conn: psycopg.Connection, sites: list[Site], until: date | None, days: int, out: IO[str]
) -> None:
    for site in sites:
        try:
            for fitted in train_site(conn, site, until, days):
                print_fitted(fitted, out)
        except ForecastError as exc:
            print(f"forecast: site {site.site_id} not trained: {exc}", file=out)


def train_all(conn: psycopg.Connection, out: IO[str]) -> None:
    """`make run` after its demo data: every site with rack data, the default window."""
    began = time.perf_counter()
    train_sites(conn, sites_with_data(conn, load_catalog(conn)), None, DEFAULT_DAYS, out)
    print(f"forecast: trained in {time.perf_counter() - began:.1f} s", file=out)


def print_fitted(fitted: Fitted, out: IO[str]) -> None:
    print(
        f"forecast: site {fitted.site} {fitted.target} v{fitted.version} "
        f"({fitted.train_start:%Y-%m-%d} to {fitted.train_end:%Y-%m-%d}, "
        f"{fitted.seconds:.1f} s): serves {fitted.chosen_model}",
        file=out,
    )
    print(_table(fitted.metrics, fitted.chosen_model), file=out)


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
