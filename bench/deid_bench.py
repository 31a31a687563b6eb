"""What de-identification and access control cost: the de-identified endpoints against the raw
ones on the same rows, same engine, same run, plus view generation and token checking.

    .venv/bin/python bench/deid_bench.py [--hours 6] [--repetitions 5] [--database-url URL]

Without --database-url (or ESS_BENCH_DATABASE_URL) it starts its own embedded engine in a
temporary directory and throws it away. It registers a scratch site like site 2 with one bank of
three racks, generates `hours` x 3,600 rows per rack server-side (with fault flags set now and
then), then measures in-process (Litestar TestClient, no network):

- a 1000-row JSON page of one rack: raw endpoint with a token vs the de-identified one without;
- the CSV download of the whole window of the bank's racks: raw vs de-identified;
- the same SELECT straight from ess.rack and from its ess_deid view (the view adds nothing);
- `ess deid apply`: creating every view, re-applying unchanged, rotating to a new key;
- one JWT check (HS256) and one rate-limiter step, per request.
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import timedelta

from common import bench_database, describe_setup, interleaved, median_ms, scratch_site, timed
from litestar.testing import TestClient

from api.app import create_app
from api.auth.ratelimit import RateLimiter
from api.auth.tokens import SCOPES, TokenKeys, mint
from api.config import AccessSettings, Settings
from api.db import connect, open_pool
from api.deid import apply_views

SECRET = "bench-secret-" + "0123456789abcdef" * 2
KEY = "bench-deid-key-" + "fedcba9876543210" * 2
OTHER_KEY = "bench-deid-key-2-" + "0f1e2d3c4b5a6978" * 2
DAY = "2022-05-10"

ROWS_SQL = """
INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_voltage, rack_current,
    rack_max_cell_voltage, rack_min_cell_voltage, rack_cell_voltage_gap,
    rack_max_cell_temperature, rack_min_cell_temperature, rack_cell_temperature_gap,
    rack_over_temperature_warning, rack_over_voltage_protection_fault)
SELECT t, %(site)s, 1, r, 50 + 30 * sin(s / 3600.0), 900 + r, 20 * cos(s / 1800.0),
    3.95, 3.9, 0.05, 31, 25, 6, (s %% 997 = 0)::int, (s %% 1499 = 0)::int
FROM generate_series(0, %(seconds)s - 1) AS s,
    LATERAL (SELECT '2022-05-10T00:00:00+09:00'::timestamptz + s * interval '1 second') AS x (t),
    generate_series(1, 3) AS r
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with bench_database(args.database_url) as db:
        url = db.url
        with connect(url) as conn:
            describe_setup(conn)
            site = scratch_site(conn, "deidbench", (3,))
            conn.execute(ROWS_SQL, {"site": site, "seconds": args.hours * 3600})
            began = time.perf_counter()
            created = apply_views(conn, KEY)
            first = time.perf_counter() - began
            began = time.perf_counter()
            unchanged = apply_views(conn, KEY)
            again = time.perf_counter() - began
            began = time.perf_counter()
            rotated = apply_views(conn, OTHER_KEY)
            rotate = time.perf_counter() - began
            apply_views(conn, KEY)
            raw_sql = (
                "SELECT ts, rack_id, rack_soc, rack_over_temperature_warning FROM ess.rack"
                f" WHERE site_id = {site} AND bank_id = 1 AND ts >= '{DAY}T00:00:00+09'"
                f" AND ts < '{DAY}T00:00:00+09'::timestamptz + interval '{args.hours} hours'"
                " ORDER BY ts, rack_id"
            )
            token_column = next(
                name
                for (name,) in conn.execute(
                    "SELECT published_name FROM ess_deid.dictionary WHERE site_id = %s"
                    " AND component = 'rack' AND sensitive ORDER BY published_name",
                    (site,),
                )
            )
            view_sql = raw_sql.replace("ess.rack", f"ess_deid.site{site}_rack").replace(
                "rack_over_temperature_warning", token_column
            )
            sql_raw, sql_view, rows, view_rows = interleaved(
                lambda: conn.execute(raw_sql).fetchall(),
                lambda: conn.execute(view_sql).fetchall(),
                args.repetitions,
            )
            assert len(rows) == len(view_rows) == args.hours * 3600 * 3

        print(f"\nrows: {len(rows):,} (3 racks x {args.hours} h at 1 Hz)")
        print(
            f"ess deid apply: {len(created.created)} views created in {first * 1000:.0f} ms, "
            f"{len(unchanged.unchanged)} unchanged in {again * 1000:.0f} ms, rotation re-created "
            f"{len(rotated.created)} in {rotate * 1000:.0f} ms"
        )
        ratio = median_ms(sql_view) / median_ms(sql_raw)
        print(
            f"SELECT all rows: ess.rack {median_ms(sql_raw):.0f} ms, view "
            f"{median_ms(sql_view):.0f} ms (view/raw {ratio:.2f})"
        )

        pool = open_pool(url, max_size=4)
        settings = Settings(access=AccessSettings(jwt_secret=SECRET, rate_limit_burst=0))
        headers = {"Authorization": "Bearer " + mint(SECRET, list(SCOPES), None, timedelta(1))}
        window = {"start-time": f"{DAY}T00:00:00", "end-time": f"{DAY}T{args.hours:02d}:00:00"}
        with TestClient(app=create_app(pool=pool, settings=settings)) as client:

            def get(path: str, params: dict, **kwargs) -> bytes:
                response = client.get(path, params=params, **kwargs)
                assert response.status_code == 200, response.text
                return response.content

            def raw_and_deidentified(raw_path: str, params: dict, repetitions: int):
                """The raw URL with the token, the same URL under di/ without one."""
                di_path = raw_path.replace("/operating-sites/", "/di/operating-sites/")
                return interleaved(
                    lambda: get(raw_path, params, headers=headers),
                    lambda: get(di_path, params),
                    repetitions,
                )

            raw_page, di_page, _, _ = raw_and_deidentified(
                f"/api/ess/operating-sites/{site}/banks/1/racks/2/",
                {"page_size": 1000, **window},
                args.repetitions * 4,
            )
            raw_csv, di_csv, raw_body, di_body = raw_and_deidentified(
                f"/api/ess/download/operating-sites/{site}/rack/", window, args.repetitions
            )
        pool.close()
        print(
            f"JSON page (1000 rows, one rack): raw {median_ms(raw_page):.1f} ms, de-identified "
            f"{median_ms(di_page):.1f} ms (di/raw {median_ms(di_page) / median_ms(raw_page):.2f})"
        )
        megabytes = len(raw_body) / 1e6
        print(
            f"CSV download ({megabytes:.1f} MB, {len(rows):,} rows): raw "
            f"{median_ms(raw_csv):.0f} ms ({megabytes / (median_ms(raw_csv) / 1000):.0f} MB/s), "
            f"de-identified {median_ms(di_csv):.0f} ms "
            f"(di/raw {median_ms(di_csv) / median_ms(raw_csv):.2f}, {len(di_body) / 1e6:.1f} MB)"
        )

    keys = TokenKeys(secret=SECRET)
    token = headers["Authorization"].split()[1]
    checks, _ = timed(lambda: [keys.verify(token) for _ in range(1000)], args.repetitions)
    limiter = RateLimiter(burst=10**9, per_second=1.0)
    steps, _ = timed(
        lambda: [limiter.acquire(f"10.0.{i % 250}.1") for i in range(1000)], args.repetitions
    )
    print(
        f"per request: JWT check {median_ms(checks):.0f} us, rate-limiter step "
        f"{median_ms(steps):.1f} us"
    )


if __name__ == "__main__":
    main()
