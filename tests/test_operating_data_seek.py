"""Numbered pages located from the 1-minute aggregate's row counts equal OFFSET paging.

A scratch site (bank 1 with 3 racks, bank 2 with 2) holds 30 minutes of rack rows at 1 Hz with
gaps: three whole minutes missing for every rack, one rack missing a minute and a second, and
rows at fractional seconds. Minutes 0-19 are materialized in ess.rack_1m; then rows are written
into a materialized minute (its count goes stale) and past it. Every numbered page must hold
the rows of the same place in the cursor walk (which skips nothing), and the aggregate must
actually serve the minutes it counts exactly.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from api.catalog.model import load_catalog
from api.operating_data import execute
from api.operating_data.dataset import operating_dataset
from api.operating_data.execute import _seek
from api.operating_data.plan import MinuteCounts, Selection, count_spans, fix_series
from api.operating_data.sqlbuild import coverage_query
from api.params import Window
from tests.helpers import SEOUL, create_scratch_site
from tests.test_operating_data_api import all_pages, get_json, problem, url

START = datetime(2022, 6, 1, 10, 0, 0, tzinfo=SEOUL)
MINUTES = 30
MATERIALIZED_MINUTES = 20
GAP_MINUTES = range(5, 8)  # no rack rows at all
LATE_MINUTE = 10  # materialized, then written again
RACKS = (3, 2)

ROWS_SQL = """
INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_voltage)
SELECT %(start)s + s * interval '1 second', %(site)s, b, r, s / 100.0, 900 + r
FROM generate_series(0, %(seconds)s - 1) AS s,
    (VALUES (1, 1), (1, 2), (1, 3), (2, 1), (2, 2)) AS series (b, r)
WHERE s / 60 NOT BETWEEN %(gap_first)s AND %(gap_last)s
    AND NOT (b = 1 AND r = 2 AND (s / 60 = 12 OR s = 700))
UNION ALL
SELECT %(start)s + interval '725.5 seconds', %(site)s, 2, 1, 7.255, 901
"""
# after the refresh: into a materialized minute (stale now), and past the materialized ones
LATE_SQL = """
INSERT INTO ess.rack (ts, site_id, bank_id, rack_id, rack_soc, rack_voltage)
SELECT %(start)s + s * interval '1 second', %(site)s, b, r, s / 100.0, 800 + r
FROM (VALUES (%(late)s * 60 + 20.25), (%(late)s * 60 + 59.5), (1500.75), (1799.5)) AS late (s),
    (VALUES (1, 1), (1, 3), (2, 2)) AS series (b, r)
"""


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        site_id = create_scratch_site(conn, 2, RACKS, first_id=760, code="seek")
        params = {
            "start": START,
            "site": site_id,
            "seconds": MINUTES * 60,
            "gap_first": GAP_MINUTES[0],
            "gap_last": GAP_MINUTES[-1],
            "late": LATE_MINUTE,
        }
        conn.execute(ROWS_SQL, params)
        conn.execute(
            "CALL refresh_continuous_aggregate('ess.rack_1m', %s, %s)",
            (START, START + timedelta(minutes=MATERIALIZED_MINUTES)),
        )
        conn.execute(LATE_SQL, params)
        return site_id


@pytest.fixture
def api(site, client):
    """Every numbered page past the first sought, whatever its depth."""
    with_seek_min_offset(client, 0)
    return client


def with_seek_min_offset(client, rows: int) -> None:
    settings = client.app.state.operating_data
    client.app.state.operating_data = replace(settings, seek_min_offset=rows)


def minute(n: float) -> str:
    return (START + timedelta(minutes=n)).isoformat()


WINDOWS = {
    "open": {},
    "whole minutes": {"start-time": minute(0), "end-time": minute(MINUTES)},
    "partial minutes": {"start-time": minute(0.25), "end-time": minute(MINUTES - 0.5)},
    "none materialized": {
        "start-time": minute(MATERIALIZED_MINUTES + 1.5),
        "end-time": minute(MINUTES),
    },
}


@pytest.mark.parametrize("path", ["banks/1/racks/", "banks/2/racks/", "banks/1/racks/3/"])
@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("page_size", [37, 180, 1000])
def test_numbered_pages_equal_the_walk(api, site, path, window, page_size):
    """180 rows are a minute of bank 1's three racks: its pages start on bucket edges."""
    walked = all_pages(api, url(site, path), page_size=10000, **WINDOWS[window])
    last = -(-len(walked) // page_size)
    sample = random.Random(f"{path}{window}{page_size}").sample(range(1, last), min(6, last - 1))
    for number in sorted(n for n in {2, last, *sample} if n <= last):
        page = get_json(api, url(site, path), page=number, page_size=page_size, **WINDOWS[window])
        expected = walked[(number - 1) * page_size : number * page_size]
        assert page["results"] == expected, f"page {number}"
        assert (page["next"] is None) == (number == last)
    problem(
        api.get(
            url(site, path), params={"page": last + 1, "page_size": page_size, **WINDOWS[window]}
        ),
        404,
        "page",
    )


def test_rows_written_after_the_refresh_are_on_their_pages(api, site):
    walked = all_pages(api, url(site, "banks/1/racks/"), page_size=10000)
    late = [i for i, row in enumerate(walked) if row["rack_voltage"] < 900]
    assert len(late) == 8  # two racks of bank 1, four times
    for index in late:
        page = get_json(api, url(site, "banks/1/racks/"), page=index // 50 + 1, page_size=50)
        assert page["results"][index % 50] == walked[index]


def test_pages_just_below_and_above_the_seek_threshold_equal_the_walk(api, site, monkeypatch):
    """Below seek_min_offset a page skips by OFFSET, from it on it is sought: same rows."""
    sought: list[int] = []

    def seek(conn, selection, offset):
        sought.append(offset)
        return _seek(conn, selection, offset)

    monkeypatch.setattr(execute, "_seek", seek)
    with_seek_min_offset(api, 1500)
    walked = all_pages(api, url(site, "banks/1/racks/"), page_size=10000)
    assert len(walked) > 1700
    for number in (2, 14, 15, 16, 17):  # offsets 100, 1300, 1400 | 1500, 1600
        page = get_json(api, url(site, "banks/1/racks/"), page=number, page_size=100)
        assert page["results"] == walked[(number - 1) * 100 : number * 100], f"page {number}"
    assert sought == [1500, 1600]


def test_the_aggregate_counts_the_materialized_minutes_and_not_the_stale_one(pool, site):
    window = Window(START, START + timedelta(minutes=MINUTES))
    selection = _selection(pool, site, bank=1)
    with pool.connection() as conn:
        schema, table, width, origin, until, starts, ends = conn.execute(
            *coverage_query(selection, window)
        ).fetchone()
        (rack_1m,) = conn.execute(
            "SELECT mat.table_name FROM _timescaledb_catalog.continuous_agg AS agg "
            "JOIN _timescaledb_catalog.hypertable AS mat ON agg.mat_hypertable_id = mat.id "
            "WHERE agg.user_view_schema = 'ess' AND agg.user_view_name = 'rack_1m'"
        ).fetchone()
    counts = MinuteCounts((schema, table), width, origin, until, tuple(map(Window, starts, ends)))
    exact, raw = count_spans(window, counts)
    late = START + timedelta(minutes=LATE_MINUTE)
    assert table == rack_1m and until >= START + timedelta(minutes=MATERIALIZED_MINUTES)
    assert Window(START, late) in exact
    assert any(w.start <= late and w.end >= late + width for w in raw)  # the stale minute
    assert all(w.end <= START + timedelta(minutes=MATERIALIZED_MINUTES) for w in exact)


def test_the_seek_lands_in_the_minute_of_the_first_row(pool, site, api):
    selection = _selection(pool, site, bank=1)
    walked = all_pages(api, url(site, "banks/1/racks/"), page_size=10000)
    for offset in (1, 179, 180, 181, 1500, 3000, len(walked) - 1):
        with pool.connection() as conn, conn.transaction():
            window, skip = _seek(conn, selection, offset)
        first = datetime.fromisoformat(walked[offset]["timestamp"])
        assert window.start <= first < window.start + timedelta(minutes=1)
        # the rows skipped are those of the minute before the page's first row
        anchor = offset - skip
        assert datetime.fromisoformat(walked[anchor]["timestamp"]) >= window.start
        assert anchor == 0 or datetime.fromisoformat(walked[anchor - 1]["timestamp"]) < window.start
    with pool.connection() as conn, conn.transaction():
        window, _ = _seek(conn, selection, len(walked))
    assert window.start == window.end  # past the last row: nothing to read


def _selection(pool, site: int, bank: int) -> Selection:
    with pool.connection() as conn:
        catalog = load_catalog(conn)
    dataset = operating_dataset(catalog, catalog.sites[site], "rack")
    return Selection(dataset, (), fix_series(dataset, bank, None), Window(None, None), "UTC")


# -- count_spans, on its own

GRID = MinuteCounts(
    table=("_timescaledb_internal", "_materialized_hypertable_1"),
    width=timedelta(minutes=1),
    origin=datetime(2000, 1, 3, tzinfo=SEOUL),
    materialized_until=START + timedelta(minutes=20),
    stale=(),
)


def _at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def test_spans_leave_partial_minutes_and_the_unmaterialized_end_to_the_raw_rows():
    exact, raw = count_spans(Window(_at(0.5), _at(30)), GRID)
    assert exact == [Window(_at(1), _at(20))]
    assert raw == [Window(_at(0.5), _at(1)), Window(_at(20), _at(30))]


def test_spans_widen_stale_ranges_to_whole_minutes():
    stale = (Window(_at(12.25), _at(12.5)), Window(_at(3), _at(4.01)))
    exact, raw = count_spans(Window(_at(0), _at(20)), replace(GRID, stale=stale))
    assert exact == [Window(_at(0), _at(3)), Window(_at(5), _at(12)), Window(_at(13), _at(20))]
    assert raw == [Window(_at(3), _at(5)), Window(_at(12), _at(13))]


def test_spans_of_a_window_inside_one_minute_are_all_raw():
    assert count_spans(Window(_at(2.1), _at(2.9)), GRID) == ([], [Window(_at(2.1), _at(2.9))])
