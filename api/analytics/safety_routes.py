"""The specification's safety-indicator URLs: SoS, ExSoS, SoCP and forecasting-SoL, each a
thin handler over one SQL function (parse -> plan -> SQL -> respond)."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, Request, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Example
from litestar.params import FromPath, QueryParameter

from api.analytics.cell_position import (
    SoCPItem,
    check_budget,
    parse_charge_status,
    parse_socp_window,
    rack_socp,
)
from api.analytics.indicator_request import (
    Series,
    WindowQuery,
    parse_bucket_window,
    series_of,
)
from api.analytics.safety import BANK_MODE, RACK_MODE, ExSoSItem, SoSItem, exsos, rack_sos
from api.analytics.state_of_life import SoLAnswer, forecast_sol, parse_days, parse_fit_days


def window_query(
    start_time: str | None = QueryParameter(
        name="start-time",
        default=None,
        description="ISO 8601; without an offset, the site's local time. The window is "
        "[start, end)",
        examples=[Example(value="2023-04-10T11:00:00")],
    ),
    end_time: str | None = QueryParameter(
        name="end-time",
        default=None,
        description="ISO 8601, exclusive",
        examples=[Example(value="2023-04-10T13:00:00+09:00")],
    ),
    day: str | None = QueryParameter(
        name="date",
        default=None,
        description="One local day of the site (YYYY-MM-DD), from its midnight to the next, "
        "instead of start-time and end-time",
        examples=[Example(value="2023-04-10")],
    ),
) -> WindowQuery:
    return WindowQuery(start_time, end_time, day)


# start-time, end-time and date of every windowed indicator (SoS, ExSoS, SoCP, protection map)
WINDOW = {"window": Provide(window_query, sync_to_thread=False)}
WIDTH = QueryParameter(
    name="time-bucket-width",
    default=None,
    description="Bucket width (default 1 minute): 1 minute, 15 minutes, 1hour, PT1H, 30s. "
    "Whole minutes on a minute-aligned window read the continuous aggregates (up to 92 days); "
    "anything finer reads the raw rows (up to 1 day)",
)
WINDOW_NOTE = (
    " Buckets are the site's local buckets; the worst case within each bucket counts. Times "
    "carry the site's UTC offset."
)


def _series(request: Request, site: int, bank: int | None, rack: int | None = None) -> Series:
    return series_of(request.app.state.catalog, site, bank, rack)


def _sos(request: Request, series: Series, window: WindowQuery, width: str | None):
    buckets = parse_bucket_window(window, width, series.tz, series.rack_count())
    with request.app.state.pool.connection() as conn:
        return rack_sos(conn, series, buckets)


class SoSController(Controller):
    path = "/api/ess/stats/sos/operating-sites/{site:int}/banks/{bank:int}/racks"
    tags = ["safety"]
    dependencies = WINDOW
    description = (
        "SoS (State of Safety, Cabrera-Castillo et al. 2016): seven hazard factors in (0, 1], "
        "their product sos_score, and the class: safe >= 0.8, warning >= 0.4096, unsafe."
        + WINDOW_NOTE
    )

    @get("/", sync_to_thread=True, summary="SoS of every rack of a bank per time bucket")
    def bank_racks(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = WIDTH,
    ) -> list[SoSItem]:
        return _sos(request, _series(request, site, bank), window, width)

    @get("/{rack:int}/", sync_to_thread=True, summary="SoS of one rack per time bucket")
    def rack(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        rack: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = WIDTH,
    ) -> list[SoSItem]:
        return _sos(request, _series(request, site, bank, rack), window, width)


def _exsos(
    request: Request, series: Series, mode: int, window: WindowQuery, width: str | None
) -> list[ExSoSItem]:
    count = series.rack_count() if mode == RACK_MODE else series.bank_count()
    buckets = parse_bucket_window(window, width, series.tz, count)
    with request.app.state.pool.connection() as conn:
        return exsos(conn, series, buckets, mode)


class ExSoSController(Controller):
    path = "/api/ess/stats/ex-sos/operating-sites/{site:int}/banks"
    tags = ["safety"]
    dependencies = WINDOW
    description = (
        "ExSoS (extended SoS): a fuzzy score in [0, 1] (1 safest) from the two hazards of the "
        "operating state (charge: over-voltage, over-temperature; discharge: under-voltage, "
        "under-temperature; rest: voltage and temperature imbalance), with the five membership "
        "degrees and the inputs used. Mode 1: bank level (the worst rack's inputs), mode 2: "
        "rack level." + WINDOW_NOTE
    )

    @get("/", sync_to_thread=True, summary="ExSoS of every bank (mode 1)")
    def banks(
        self,
        request: Request,
        site: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = WIDTH,
    ) -> list[ExSoSItem]:
        series = _series(request, site, None)
        return _exsos(request, series, BANK_MODE, window, width)

    @get("/{bank:int}/", sync_to_thread=True, summary="ExSoS of one bank (mode 1)")
    def bank(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = WIDTH,
    ) -> list[ExSoSItem]:
        series = _series(request, site, bank)
        return _exsos(request, series, BANK_MODE, window, width)

    @get("/{bank:int}/racks/", sync_to_thread=True, summary="ExSoS of every rack (mode 2)")
    def bank_racks(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = WIDTH,
    ) -> list[ExSoSItem]:
        series = _series(request, site, bank)
        return _exsos(request, series, RACK_MODE, window, width)

    @get("/{bank:int}/racks/{rack:int}/", sync_to_thread=True, summary="ExSoS of one rack")
    def rack(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        rack: FromPath[int],
        window: NamedDependency[WindowQuery],
        width: str | None = WIDTH,
    ) -> list[ExSoSItem]:
        series = _series(request, site, bank, rack)
        return _exsos(request, series, RACK_MODE, window, width)


PERIOD = QueryParameter(
    name="period",
    default=None,
    description="1, 7 or 30 days ending at end-time (default 1; end-time defaults to the start "
    "of the site's current local day). Not with date, which is the one-day window of that "
    "local day",
)
CHARGE_STATUS = QueryParameter(
    name="charge-status",
    default=None,
    description="charge (current >= 2 A), discharge (<= -2 A) or rest; default all three",
)


def _socp(
    request: Request,
    series: Series,
    window: WindowQuery,
    period: str | None,
    status: str | None,
) -> list[SoCPItem]:
    found = parse_socp_window(period, window, series.tz, datetime.now(UTC))
    check_budget(series, found)
    charge_status = parse_charge_status(status)
    with request.app.state.pool.connection() as conn:
        return rack_socp(conn, series, found, charge_status)


class SoCPController(Controller):
    path = "/api/ess/stats/socp/operating-sites/{site:int}/banks/{bank:int}/racks"
    tags = ["safety"]
    dependencies = WINDOW
    description = (
        "SoCP (State of Cell Position): per rack, operating state and SoC decile, how often "
        "each cell position was the rack's highest (max) and lowest (min) cell voltage, with "
        "the mean voltage, temperature and current at those moments. A cell that is often the "
        "max while charging or the min while discharging is a weak cell. Give period (and "
        "end-time), start-time and end-time, or date (one local day: period 1 ending at the "
        "next local midnight)."
    )

    @get("/", sync_to_thread=True, summary="SoCP of every rack of a bank")
    def bank_racks(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        window: NamedDependency[WindowQuery],
        period: str | None = PERIOD,
        charge_status: str | None = CHARGE_STATUS,
    ) -> list[SoCPItem]:
        series = _series(request, site, bank)
        return _socp(request, series, window, period, charge_status)

    @get("/{rack:int}/", sync_to_thread=True, summary="SoCP of one rack")
    def rack(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        rack: FromPath[int],
        window: NamedDependency[WindowQuery],
        period: str | None = PERIOD,
        charge_status: str | None = CHARGE_STATUS,
    ) -> list[SoCPItem]:
        series = _series(request, site, bank, rack)
        return _socp(request, series, window, period, charge_status)


START_DATE = QueryParameter(name="start-date", default=None, description="First day, YYYY-MM-DD")
END_DATE = QueryParameter(
    name="end-date",
    default=None,
    description="Last day, YYYY-MM-DD; days after the last day with data are forecast",
)
FIT_DAYS = QueryParameter(
    name="fit-days", default=None, description="Days of history the trend is fitted to (90)"
)


def _sol(
    request: Request,
    series: Series,
    start_date: str | None,
    end_date: str | None,
    fit_days: str | None,
) -> SoLAnswer:
    first, last = parse_days(start_date, end_date)
    fit = parse_fit_days(fit_days)
    with request.app.state.pool.connection() as conn:
        return forecast_sol(conn, series, first, last, fit)


class SoLController(Controller):
    path = "/api/ess/stats/forecasting-sol/operating-sites/{site:int}/banks"
    tags = ["safety"]
    description = (
        "SoL (State of Life) = (SoH - 80) x 5 per local day: observed days, then a forecast "
        "from a least-squares trend with a 95 % prediction band (top_limit_value, "
        "bottom_limit_value), and the trend model with its backtest against persistence."
    )

    @get("/", sync_to_thread=True, summary="SoL of every bank")
    def banks(
        self,
        request: Request,
        site: FromPath[int],
        start_date: str | None = START_DATE,
        end_date: str | None = END_DATE,
        fit_days: str | None = FIT_DAYS,
    ) -> SoLAnswer:
        return _sol(request, _series(request, site, None), start_date, end_date, fit_days)

    @get("/{bank:int}/", sync_to_thread=True, summary="SoL of one bank")
    def bank(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        start_date: str | None = START_DATE,
        end_date: str | None = END_DATE,
        fit_days: str | None = FIT_DAYS,
    ) -> SoLAnswer:
        return _sol(request, _series(request, site, bank), start_date, end_date, fit_days)

    @get("/{bank:int}/racks/{rack:int}/", sync_to_thread=True, summary="SoL of one rack")
    def rack(
        self,
        request: Request,
        site: FromPath[int],
        bank: FromPath[int],
        rack: FromPath[int],
        start_date: str | None = START_DATE,
        end_date: str | None = END_DATE,
        fit_days: str | None = FIT_DAYS,
    ) -> SoLAnswer:
        series = _series(request, site, bank, rack)
        return _sol(request, series, start_date, end_date, fit_days)
