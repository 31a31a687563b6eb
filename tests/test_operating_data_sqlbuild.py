"""The parse, plan and SQL steps on their own: no database, no HTTP."""

from __future__ import annotations

import itertools
import json
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from api.catalog.model import Catalog, Column, Site
from api.errors import ProblemError
from api.operating_data.cursor import AFTER, BEFORE, Cursor, Position, decode_cursor, encode_cursor
from api.operating_data.dataset import operating_dataset
from api.operating_data.download import JsonEncoder
from api.operating_data.parse import (
    WholeListArgs,
    parse_download_args,
    parse_page_args,
    select_columns,
)
from api.operating_data.plan import fix_series, plan_page, plan_slices, select, whole
from api.operating_data.settings import OperatingDataSettings
from api.operating_data.sqlbuild import (
    bounds_query,
    copy_statement,
    count_query,
    latest_query,
    rows_query,
)
from api.params import Window
from tests.helpers import SEOUL

SITE = Site(
    site_id=5,
    code="five",
    name="Five",
    name_ko=None,
    timezone="Asia/Seoul",
    topology={},
    data_since=None,
    retired_on=None,
    rack_counts={1: 3, 2: 2},
    columns={
        "rack": (
            Column("bank_id", "integer", "smallint"),
            Column("rack_id", "integer", "smallint"),
            Column("rack_soc", "float", "double precision"),
            Column("rack_module_fault", "json", "jsonb"),
        ),
        "pcs": (Column("ai_vdc", "float", "double precision"),),
    },
)
CATALOG = Catalog(
    sites={5: SITE},
    key_columns={"bank": ("bank_id",), "rack": ("bank_id", "rack_id"), "pcs": (), "etc": ()},
    token_prefixes={},
)
RACKS = operating_dataset(CATALOG, SITE, "rack")
PCS = operating_dataset(CATALOG, SITE, "pcs")
SETTINGS = OperatingDataSettings(cursor_key=b"k" * 32)
TIME = (
    """CASE WHEN "ts" = "ts"::timestamptz(0) THEN btrim(to_json("ts")::text, '"') """
    """ELSE to_char("ts", 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM') END AS "timestamp\""""
)
T0 = datetime(2022, 5, 10, 10, tzinfo=SEOUL)


def racks_of_bank(query: dict[str, str] | None = None, bank: int = 1):
    args = parse_page_args(RACKS, (query or {}).items(), SETTINGS.download_max_span)
    return select(RACKS, args.selected, fix_series(RACKS, bank, None)), args


def text(statement) -> str:
    return statement[0].as_string()


def test_a_page_of_a_banks_racks():
    selection, _ = racks_of_bank(
        {"start-time": "2022-05-10T10:00:00", "end-time": "2022-05-10T11:00:00"}
    )
    query, params = rows_query(selection, limit=1001)
    assert query.as_string() == (
        f'SELECT {TIME}, "bank_id" AS "bank_id", "rack_id" AS "rack_id", '
        '"rack_soc" AS "rack_soc", "rack_module_fault" AS "rack_module_fault" '
        'FROM "ess"."rack" WHERE "site_id" = %(site)s AND "bank_id" = %(bank_id)s '
        'AND "ts" >= %(start)s AND "ts" < %(end)s ORDER BY "ts", "rack_id" LIMIT %(limit)s'
    )
    assert params == {
        "site": 5,
        "bank_id": 1,
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "limit": 1001,
    }


def test_keyset_after_and_before_a_row():
    selection, _ = racks_of_bank()
    position = Position(T0, (2,))
    after = rows_query(selection, cursor=Cursor(AFTER, position), limit=11)
    assert 'AND ("ts", "rack_id") > (%(cursor_ts)s, %(cursor_rack_id)s) ' in text(after)
    # the plain time bound lets TimescaleDB exclude chunks
    assert 'AND "ts" >= %(cursor_ts)s ORDER BY "ts", "rack_id" LIMIT' in text(after)
    assert after[1]["cursor_ts"] == T0 and after[1]["cursor_rack_id"] == 2
    before = rows_query(selection, cursor=Cursor(BEFORE, position), limit=11)
    assert '("ts", "rack_id") < (' in text(before)
    assert text(before).endswith(
        '"ts" <= %(cursor_ts)s ORDER BY "ts" DESC, "rack_id" DESC LIMIT %(limit)s'
    )


def test_one_series_orders_by_time_alone():
    args = parse_page_args(PCS, {"fields": "ai_vdc"}.items(), SETTINGS.download_max_span)
    selection = select(PCS, args.selected, ())
    statement = rows_query(selection, cursor=Cursor(AFTER, Position(T0)), offset=20)
    assert (
        'WHERE "site_id" = %(site)s AND "ts" > %(cursor_ts)s ORDER BY "ts" OFFSET %(offset)s'
        in (text(statement))
    )


def test_numbered_page_offset_and_its_cap():
    selection, args = racks_of_bank({"page": "3", "page_size": "50"})
    assert plan_page(selection, args, SETTINGS).offset == 100
    deep, args = racks_of_bank({"page": "5000", "page_size": "100"})
    with pytest.raises(ProblemError) as error:
        plan_page(deep, args, SETTINGS)
    assert error.value.parameter == "page"


def test_numbered_pages_from_the_threshold_on_are_sought_shallower_ones_skip_by_offset():
    settings = replace(SETTINGS, seek_min_offset=5000)
    plans = {
        page: plan_page(*racks_of_bank({"page": str(page), "page_size": "100"}), settings)
        for page in (1, 50, 51, 52)
    }
    assert {page: (p.offset, p.seeks) for page, p in plans.items()} == {
        1: (0, False),
        50: (4900, False),  # just below: the page statement skips the rows itself
        51: (5000, True),  # at the threshold: its first row is located from the minute counts
        52: (5100, True),
    }
    below = plans[50]
    statement = rows_query(below.selection, limit=below.size + 1, offset=below.offset)
    assert text(statement).endswith("LIMIT %(limit)s OFFSET %(offset)s")
    assert statement[1]["offset"] == 4900
    # only a component's own rows have the 1-minute aggregate: other relations always skip
    view = replace(RACKS, relation=("ess_deid", "site5_rack"))
    args = parse_page_args(view, {"page": "60", "page_size": "100"}.items(), timedelta(days=31))
    assert not plan_page(select(view, args.selected, ()), args, settings).seeks
    # the first page never seeks, even with no threshold
    first = racks_of_bank({"page": "1"})
    assert not plan_page(*first, replace(SETTINGS, seek_min_offset=0)).seeks
    assert plan_page(*racks_of_bank({"page": "2"}), replace(SETTINGS, seek_min_offset=0)).seeks


def test_exact_count_needs_a_bounded_window_of_bounded_size():
    selection, args = racks_of_bank({"date": "2022-05-10", "count": "exact"})
    assert plan_page(selection, args, SETTINGS).count == "exact"
    small = OperatingDataSettings(cursor_key=b"k", count_max_rows=86400 * 3 - 1)
    with pytest.raises(ProblemError):
        plan_page(selection, args, small)  # 3 racks x 86400 s
    assert text(count_query(selection)) == (
        'SELECT count(*) FROM "ess"."rack" WHERE "site_id" = %(site)s AND "bank_id" = %(bank_id)s '
        'AND "ts" >= %(start)s AND "ts" < %(end)s'
    )


def test_latest_of_every_rack_is_a_lateral_probe_per_rack():
    selection, _ = racks_of_bank(bank=2)
    query, params = latest_query(selection)
    assert query.as_string().startswith(
        "SELECT latest.* FROM unnest(%(series)s::smallint[]) AS series (key) CROSS JOIN LATERAL ("
    )
    assert '"rack_id" = series.key ORDER BY "ts" DESC LIMIT 1) AS latest ORDER BY series.key' in (
        query.as_string()
    )
    assert params["series"] == [1, 2]
    _, args = racks_of_bank()
    one, _ = latest_query(select(RACKS, args.selected, (("bank_id", 1), ("rack_id", 3))))
    assert one.as_string().endswith('"rack_id" = %(rack_id)s ORDER BY "ts" DESC LIMIT 1')


def test_bounds_probe_each_bank_when_banks_vary():
    statement = bounds_query(whole(RACKS))
    assert "FROM unnest(%(banks)s::smallint[]) AS probe (bank_id)" in text(statement)
    assert statement[1]["banks"] == [1, 2]
    assert text(bounds_query(whole(PCS))) == (
        'SELECT (SELECT "ts" FROM "ess"."pcs" WHERE "site_id" = %(site)s ORDER BY "ts" LIMIT 1), '
        '(SELECT "ts" FROM "ess"."pcs" WHERE "site_id" = %(site)s ORDER BY "ts" DESC LIMIT 1)'
    )


def test_identifiers_are_quoted_and_the_relation_replaceable():
    renamed = RACKS.republished(("ess_di", "rack"), lambda name: name.replace("rack_", 'rk"'))
    args = parse_page_args(renamed, {}.items(), SETTINGS.download_max_span)
    statement = rows_query(select(renamed, args.selected, ()))
    assert 'FROM "ess_di"."rack"' in text(statement)
    assert '"rk""soc" AS "rk""soc"' in text(statement)  # a quote inside a name stays a name
    assert '"rack_id" AS "rack_id"' in text(statement)  # keys keep their names
    assert (
        copy_statement(statement[0], header=True)
        .as_string()
        .endswith("TO STDOUT (FORMAT csv, HEADER true)")
    )


def test_fields_and_omit_keep_the_keys_first():
    chosen = select_columns(RACKS, "rack_module_fault,timestamp,rack_id", None)
    assert [c.name for c in chosen] == ["bank_id", "rack_id", "rack_module_fault"]
    assert [c.name for c in select_columns(RACKS, None, "rack_soc")] == [
        "bank_id",
        "rack_id",
        "rack_module_fault",
    ]
    for fields, omit in (("nope", None), (None, "bank_id"), ("rack_soc", "rack_soc")):
        with pytest.raises(ProblemError):
            select_columns(RACKS, fields, omit)


def test_series_filters_follow_the_dataset_keys():
    assert fix_series(RACKS, 2, 1) == (("bank_id", 2), ("rack_id", 1))
    for bank, rack, parameter in ((None, 1, "bank"), (3, None, "bank"), (2, 3, "rack")):
        with pytest.raises(ProblemError) as error:
            fix_series(RACKS, bank, rack)
        assert error.value.parameter == parameter
    with pytest.raises(ProblemError) as error:
        fix_series(PCS, 1, None)
    assert error.value.parameter == "bank"


def test_download_window_is_required_and_capped():
    args = parse_download_args(RACKS, {"date": "2022-05-10"}.items(), timedelta(days=1))
    assert args.selected.window == Window(T0 - timedelta(hours=10), T0 + timedelta(hours=14))
    with pytest.raises(ProblemError):
        parse_download_args(RACKS, {"start-time": "2022-05-10T00:00:00"}.items(), timedelta(days=1))
    with pytest.raises(ProblemError):
        parse_download_args(
            RACKS,
            {"start-time": "2022-05-10T00:00:00", "end-time": "2022-05-11T00:00:01"}.items(),
            timedelta(days=1),
        )


def test_slices_are_contiguous_and_sized_by_series():
    window = Window(T0, T0 + timedelta(hours=1))
    slices = plan_slices(window, series_count=5, slice_rows=3000)  # 600 s each
    assert len(slices) == 6 and slices[0] == Window(T0, T0 + timedelta(minutes=10))
    assert all(a.end == b.start for a, b in itertools.pairwise(slices))
    assert slices[-1].end == window.end
    assert plan_slices(Window(T0, T0), 5, 3000) == []


def test_cursor_round_trip_and_tamper_evidence():
    cursor = Cursor(BEFORE, Position(datetime(2022, 5, 10, 1, 0, 0, 250000, tzinfo=UTC), (7,)))
    token = encode_cursor(b"key", "ess.rack|5|bank_id=1", cursor)
    decoded = decode_cursor(b"key", "ess.rack|5|bank_id=1", token, 1)
    assert decoded == cursor
    bad = [
        (b"other key", "ess.rack|5|bank_id=1", token, 1),  # signed by another server
        (b"key", "ess.rack|5|bank_id=2", token, 1),  # issued for another query
        (b"key", "ess.rack|5|bank_id=1", token[:-2] + "AA", 1),  # altered
        (b"key", "ess.rack|5|bank_id=1", "%%%", 1),  # not base64
        (b"key", "ess.rack|5|bank_id=1", token, 2),  # wrong shape for the query
    ]
    for key, scope, candidate, keys in bad:
        with pytest.raises(ProblemError) as error:
            decode_cursor(key, scope, candidate, keys)
        assert error.value.parameter == "cursor"


JSON_LINES = [
    b'{"timestamp":"2022-05-10T10:00:00+09:00","bank_id":1,"rack_id":2,"rack_soc":null}',
    b'{"timestamp":"2022-05-10T10:00:01.500000+09:00","bank_id":1,"rack_id":3,"rack_soc":-1.5e-05}',
    b'{"timestamp":"2022-05-10T10:00:02+09:00","bank_id":1,"rack_id":3,"rack_soc":{"a": 1}}',
]


@pytest.mark.parametrize("gzip", [False, True])
def test_a_no_page_list_is_one_array_of_the_page_rows_across_slices(gzip):
    """Empty slices anywhere, a slice cut into chunks: one valid array of the rows, each as the
    database printed it (one JSON object per line); no rows at all: []."""
    first, second, third = JSON_LINES
    slices = [[], [first], [], [second + b"\n" + third[:9], third[9:]], []]

    def listed(slices: list[list[bytes]]) -> tuple[int, list]:
        encoder = JsonEncoder(gzip)
        body = b"".join(chunk for chunks in slices for chunk in encoder.encode(chunks))
        body += b"".join(encoder.finish())
        return encoder.rows, json.loads(zlib.decompress(body, wbits=31) if gzip else body)

    assert listed(slices) == (3, [json.loads(line) for line in JSON_LINES])
    assert listed([[], []]) == (0, []) and listed([]) == (0, [])


def test_no_page_takes_the_download_window_and_no_paging_parameter():
    args = parse_page_args(RACKS, {"no_page": "", "date": "2022-05-10"}.items(), timedelta(days=1))
    assert isinstance(args, WholeListArgs) and args.selected.window.bounded
    for query, parameter in [
        ({"no_page": "1"}, "start-time"),
        ({"no_page": "", "date": "2022-05-10", "page": "1"}, "page"),
        ({"no_page": "", "date": "2022-05-10", "count": "exact", "cursor": "x"}, "cursor"),
        ({"no_page": "", "start-time": "2022-05-10", "end-time": "2022-05-12"}, "end-time"),
    ]:
        with pytest.raises(ProblemError) as error:
            parse_page_args(RACKS, query.items(), timedelta(days=1))
        assert error.value.parameter == parameter, query


def test_all_banks_are_named_so_the_series_index_serves_each():
    args = parse_download_args(RACKS, {"date": "2022-05-10"}.items(), timedelta(days=1))
    statement = rows_query(select(RACKS, args.selected, ()))
    assert '"bank_id" = ANY(%(banks)s::smallint[])' in text(statement)
    assert text(statement).endswith('ORDER BY "ts", "bank_id", "rack_id"')
    assert statement[1]["banks"] == [1, 2]
