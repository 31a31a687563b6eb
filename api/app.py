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
from api.operating_data.routes import OPERATING_DATA_ROUTES
from api.operating_data.settings import OperatingDataSettings
from api.operating_sites.routes import SiteController
from api.root import root
from api.ui.assets import openapi_viewers, static_routers

ROUTES = [
    root,
    SiteController,
    *OPERATING_DATA_ROUTES,
    *DEID_ROUTES,
    *ANALYTICS_ROUTES,
    *FORECAST_ROUTES,
]


def create_app(pool: ConnectionPool | None = None, settings: Settings | None = None) -> Litestar:
    """With a pool, the caller owns it (tests); otherwise the app opens one from settings."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Litestar):
        owned = pool is None
        app.state.pool = pool or open_pool(
            settings.database_url or settings.engine_url,
            settings.pool_max_size,
            settings.statement_timeout_ms,
        )
        with app.state.pool.connection() as conn:
            app.state.catalog = load_catalog(conn)
            check_views(conn, settings)
            app.state.deid = load_deid_catalog(conn)
        try:
            yield
        finally:
            if owned:
                app.state.pool.close()

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
