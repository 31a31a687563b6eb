"""The forecast URLs: per target, all racks of a bank and one rack; the stored models of a
site. Handlers are a few lines: parse -> plan -> execute -> respond."""

from __future__ import annotations

from litestar import Controller, Request, get
from litestar.params import FromPath

from api.forecasting.execute import read_forecast
from api.forecasting.parse import parse_forecast_args
from api.forecasting.plan import plan_forecast
from api.forecasting.respond import day_ahead_items, ten_minute_items
from api.forecasting.stored import StoredModelSummary, current_models
from api.forecasting.targets import TARGETS, Target
from api.operating_data.parse import query_values
from api.params import parse_timezone
from api.replicas import reads

DESCRIPTION = (
    "Parameters: start-time and end-time, or date (one local day, half-open); tz; "
    "time-bucket-width, the step between issue times. docs/forecasting.md defines the targets, "
    "the models and their backtest."
)


def serve(request: Request, target: Target, site: int, bank: int, rack: int | None):
    catalog = request.app.state.catalog
    found = catalog.require_site(site)
    args = parse_forecast_args(request.query_params.multi_items(), target, found.timezone)
    plan = plan_forecast(catalog, site, bank, rack, target, args)
    data = read_forecast(reads(request), plan)
    return day_ahead_items(plan, data) if target.day_ahead else ten_minute_items(plan, data)


def forecast_controller(target: Target) -> type[Controller]:
    class ForecastController(Controller):
        path = f"/api/ess/stats/{target.path}/operating-sites/{{site:int}}/banks/{{bank:int}}/racks"
        tags = ["forecasting"]
        description = DESCRIPTION

        @get("/", sync_to_thread=True, summary=f"Forecast of the {target.summary}, every rack")
        def bank_racks(self, request: Request, site: FromPath[int], bank: FromPath[int]) -> list:
            return serve(request, target, site, bank, None)

        @get("/{rack:int}/", sync_to_thread=True, summary=f"Forecast of the {target.summary}")
        def rack(
            self, request: Request, site: FromPath[int], bank: FromPath[int], rack: FromPath[int]
        ) -> list:
            return serve(request, target, site, bank, rack)

    ForecastController.__name__ = f"Forecast_{target.name}"
    return ForecastController


class ForecastModelController(Controller):
    path = "/api/ess/stats/forecasting-models/operating-sites/{site:int}"
    tags = ["forecasting"]

    @get(
        "/",
        sync_to_thread=True,
        summary="The stored forecast models of a site, backtested",
        description="Parameter: tz, the zone of the answer's times (default the site's).",
    )
    def models(self, request: Request, site: FromPath[int]) -> list[StoredModelSummary]:
        values = query_values(request.query_params.multi_items(), ("tz",))
        found = request.app.state.catalog.require_site(site)
        tz = parse_timezone(values.get("tz"), found.timezone)
        with reads(request).connection() as conn:
            models = current_models(conn, site)
        return [model.in_zone(tz) for model in models]


FORECAST_ROUTES = [*(forecast_controller(t) for t in TARGETS), ForecastModelController]
