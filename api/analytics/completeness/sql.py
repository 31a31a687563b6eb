"""SQL step of completeness: the statement and the answer's item, whose fields are its
columns."""

from __future__ import annotations

from datetime import date

import msgspec

from api.analytics.completeness.parse import CompletenessQuery
from api.db import Statement, sql_text

COMPLETENESS_SQL = sql_text(__file__, "completeness.sql")


class DayCompleteness(msgspec.Struct):
    date: date
    component: str
    series: int
    rows_expected: int
    rows_stored: int
    missing_rows: int
    missing_pct: float
    status: str  # ok | warning (> 2 % missing) | critical (> 5 % missing)


def completeness_statement(query: CompletenessQuery) -> Statement:
    return COMPLETENESS_SQL, {
        "site": query.site_id,
        "first_day": query.first,
        "last_day": query.last,
        "sample_interval": query.sample_interval,
    }
