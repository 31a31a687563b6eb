"""GET /api/ess/operating-sites/{site}/completeness/: rows stored vs expected per local day and
component, from the SQL function ess.completeness (sql/functions/completeness.sql)."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
from litestar import Controller, Request, get
from litestar.params import FromPath, QueryParameter

from api.errors import bad_parameter
from api.params import parse_date, parse_duration

MAX_DAYS = 366
COMPLETENESS_SQL = (
    "SELECT * FROM ess.completeness(%s::integer, %s, %s, sample_interval => %s::interval)"
)


class DayCompleteness(msgspec.Struct):
    date: date
    component: str
    series: int
    rows_expected: int
    rows_stored: int
    missing_rows: int
    missing_pct: float
    status: str  # ok | warning (> 2 % missing) | critical (> 5 % missing)


def parse_days(start_date: str | None, end_date: str | None) -> tuple[date, date]:
    if start_date is None:
        raise bad_parameter("start-date", "give the first local day (YYYY-MM-DD)")
    first = parse_date(start_date, "start-date")
    last = parse_date(end_date, "end-date") if end_date is not None else first
    if last < first:
        raise bad_parameter("end-date", f"end-date {last} is before start-date {first}")
    if last - first >= timedelta(days=MAX_DAYS):
        raise bad_parameter("end-date", f"at most {MAX_DAYS} days per request")
    return first, last


class CompletenessController(Controller):
    path = "/api/ess/operating-sites/{site:int}/completeness"
    tags = ["analytics"]

    @get(
        "/",
        sync_to_thread=True,
        summary="Data completeness per local day and component",
        description="Rows stored against rows expected at 1 Hz (86,400 per series and day; "
        "a series is a rack, a bank, the PCS or the etc meters), or at sample-interval. "
        "Both dates are included; "
        "today counts its elapsed seconds only, days before data_since or after retirement "
        "are left out. status: warning above 2 % missing, critical above 5 %.",
    )
    def completeness(
        self,
        request: Request,
        site: FromPath[int],
        start_date: str | None = QueryParameter(name="start-date", default=None),
        end_date: str | None = QueryParameter(
            name="end-date", default=None, description="Last day included (default start-date)"
        ),
        sample_interval: str | None = QueryParameter(
            name="sample-interval",
            default=None,
            description="Expected time between rows of a series (default 1s: 86,400 a day)",
        ),
    ) -> list[DayCompleteness]:
        site_id = request.app.state.catalog.require_site(site).site_id
        first, last = parse_days(start_date, end_date)
        interval = parse_duration(sample_interval or "1s", "sample-interval")
        with request.app.state.pool.connection() as conn:
            rows = conn.execute(COMPLETENESS_SQL, (site_id, first, last, interval)).fetchall()
        return [DayCompleteness(*row) for row in rows]
