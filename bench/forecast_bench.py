"""Forecasts on one engine, in one run:

1. training time of `make run`'s demo data (the default day of sites 1-3 plus its week of
   5-minute history, generated first when the database holds no rack rows): every site and
   target, as `make run` trains them, against the raw engine reading the 1-minute aggregate rows
   of the training windows;
2. one bank's day of 10-minute forecasts at 1-minute steps (site 2, bank 1, 9 racks): the
   API's parse -> plan -> SQL -> LightGBM -> respond, latency and rows/s, against the raw
   engine reading the same day of 1-minute aggregate rows;
3. the skill table per site, target and model on the held-out days, persistence MAE beside it.

    .venv/bin/python bench/forecast_bench.py [--repetitions 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from datetime import date

import msgspec
from common import bench_database, engine_version, machine, median_ms, timed

from api.catalog.model import load_catalog
from api.db import connect, open_pool
from api.demo.command import generate_run_demo
from api.forecasting.command import train_all
from api.forecasting.execute import read_forecast
from api.forecasting.parse import parse_forecast_args
from api.forecasting.plan import plan_forecast
from api.forecasting.respond import ten_minute_items
from api.forecasting.stored import current_models
from api.forecasting.targets import BY_NAME
from api.forecasting.train import one_connection

DAY = date(2023, 4, 10)
RAW_SQL = (
    "SELECT * FROM ess.rack_1m WHERE site_id = 2 AND bank_id = 1 AND bucket >= %s AND bucket < %s"
)


# what training reads besides its own computing: the 1-minute aggregate rows of its windows
RAW_TRAINING_SQL = "SELECT * FROM ess.rack_1m WHERE bucket >= %s AND bucket < %s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} (shared)")
    with bench_database(args.database_url) as db:
        url = db.url
        with connect(url) as conn:
            print(f"engine: {engine_version(conn)}")
            if not conn.execute("SELECT EXISTS (SELECT FROM ess.rack)").fetchone()[0]:
                began = time.perf_counter()
                generate_run_demo(conn, progress=lambda line: None)
                print(f"demo (make run's): {time.perf_counter() - began:.1f} s")
            began = time.perf_counter()
            train_all(one_connection(conn), io.StringIO())
            training_s = time.perf_counter() - began
            catalog = load_catalog(conn)
            summaries = current_models(conn, None)
            window = (min(s.train_start for s in summaries), max(s.train_end for s in summaries))
            began = time.perf_counter()
            raw_rows = len(conn.execute(RAW_TRAINING_SQL, window).fetchall())
            raw_training_s = time.perf_counter() - began
        print(
            f"training, every site and target ({len(summaries)} models): {training_s:.1f} s; "
            f"raw engine reading their {raw_rows:,} 1-minute aggregate rows: "
            f"{raw_training_s:.1f} s; ratio {training_s / raw_training_s:.1f}x"
        )
        pool = open_pool(url, max_size=1)
        target = BY_NAME["max_cell_voltage"]
        site = catalog.require_site(2)
        forecast_args = parse_forecast_args([("date", DAY.isoformat())], target, site.timezone)
        plan = plan_forecast(catalog, 2, 1, None, target, forecast_args)

        def api_path() -> int:
            items = ten_minute_items(plan, read_forecast(pool, plan))
            return len(msgspec.json.encode(items)) and len(items)

        def raw() -> int:
            with pool.connection() as conn:
                return len(conn.execute(RAW_SQL, (plan.args.start, plan.args.end)).fetchall())

        api_times, rows = timed(api_path, args.repetitions)
        raw_times, _ = timed(raw, args.repetitions)
        pool.close()
    api_ms, raw_ms = median_ms(api_times), median_ms(raw_times)
    print(
        f"one bank's day of 10-minute forecasts at 1-minute steps: {rows} rows in {api_ms:.0f} ms "
        f"({rows / api_ms * 1000:,.0f} rows/s); raw engine reading the day's 1-minute rows: "
        f"{raw_ms:.0f} ms; ratio {api_ms / raw_ms:.1f}x"
    )
    print("\n| site | target | model | MAE | persistence MAE | skill | coverage | n |")
    print("|---|---|---|---|---|---|---|---|")
    for s in summaries:
        reference = s.metrics["persistence"].mae
        for name, m in s.metrics.items():
            chosen = " *" if name == s.model else ""
            print(
                f"| {s.operating_site} | {s.target} | {name}{chosen} | {m.mae:.4f} | "
                f"{reference:.4f} | {m.skill:.3f} | {m.coverage:.3f} | {m.n} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
