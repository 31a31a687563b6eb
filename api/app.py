"""The Litestar application: thin routes over parameterized SQL."""

from __future__ import annotations

from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from psycopg_pool import ConnectionPool

from api.analytics.routes import ANALYTICS_ROUTES
from api.auth.policy import AccessPolicy
from api.auth.signed_links import SignedLinks
from api.catalog.model import load_catalog
from api.config import Settings
from api.db import open_pool
from api.deid.model import load_deid_catalog
from api.deid.routes import DEID_ROUTES
from api.deid.views import check_views
from api.errors import EXCEPTION_HANDLERS
from api.forecasting.routes import FORECAST_ROUTES
from api.health import health
from api.operating_data.routes import OPERATING_DATA_ROUTES
from api.operating_data.settings import OperatingDataSettings
from api.operating_sites.routes import SiteController
from api.replicas import ReadPools
from api.root import root
from api.ui.assets import openapi_viewers, static_routers

ROUTES = [
    root,
    health,
    SiteController,
    *OPERATING_DATA_ROUTES,
    *DEID_ROUTES,
    *ANALYTICS_ROUTES,
    *FORECAST_ROUTES,
]


def create_app(pool: ConnectionPool | None = None, settings: Settings | None = None) -> Litestar:
    """With a pool (of the primary), the caller owns it (tests); otherwise the app opens one from
    settings. Every route reads through api.replicas.reads (one database per request) from
    app.state.read_pools: the replicas of settings.read_urls when they serve, else that
    primary."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Litestar):
        primary = pool or open_pool(
            settings.database_url or settings.engine_url,
            settings.pool_max_size,
            settings.statement_timeout_ms,
        )
        with primary.connection() as conn:
            app.state.catalog = load_catalog(conn)
            check_views(conn, settings)
            app.state.deid = load_deid_catalog(conn)
        app.state.read_pools = ReadPools(
            primary,
            settings.read_urls,
            max_lag_s=settings.replica_max_lag_s,
            check_interval_s=settings.replica_check_interval_s,
            pool_max_size=settings.pool_max_size,
            statement_timeout_ms=settings.statement_timeout_ms,
        )
        try:
            yield
        finally:
            app.state.read_pools.close()
            if pool is None:
                primary.close()

    return Litestar(
        route_handlers=[*ROUTES, *static_routers()],
        lifespan=[lifespan],
        # limits and the cursor key, read once: a missing production key stops the start
        state=State({"operating_data": OperatingDataSettings.from_env(settings)}),
        exception_handlers=EXCEPTION_HANDLERS,
        # authentication, scopes, rate limits and the OpenAPI security of every route
        # signed links: raw downloads from a browser (the policy accepts them instead of a token)
        plugins=[AccessPolicy(settings), SignedLinks(settings)],
        openapi_config=OpenAPIConfig(
            title="ESS data platform",
            version="0.1.0",
            description="Operating data, de-identified datasets and safety analytics of battery "
            "energy storage systems, served from TimescaleDB.",
            path="/schema",
            render_plugins=openapi_viewers(),
        ),
    )
