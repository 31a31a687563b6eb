"""Fixtures only (the helpers tests share are in tests/helpers.py).

The test database, in order: ESS_TEST_DATABASE_URL; a TimescaleDB container when a Docker
daemon answers; otherwise the embedded engine, started for this test session on a free port.

Tests never depend on data they did not create: each test that stores rows registers its own
site with ess.add_site_like() (see the `scratch_site` fixture)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.catalog.model import Catalog, load_catalog
from api.config import REPO_ROOT
from api.db import connect, open_pool
from api.deid import apply_views
from api.demo import install_demo
from api.engine import throwaway_engine
from api.migrate import migrate
from tests.helpers import TEST_DEID_KEY, bearer, create_scratch_site, settings_for_tests

TIMESCALE_IMAGE = "timescale/timescaledb:2.23.0-pg17"


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    if url := os.environ.get("ESS_TEST_DATABASE_URL"):
        yield url
    elif _docker_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer(TIMESCALE_IMAGE, driver=None) as container:
            yield container.get_connection_url()
    else:
        with throwaway_engine("ess-test-engine-") as engine:
            yield engine.url


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    with connect(database_url) as conn:
        migrate(conn, REPO_ROOT / "sql")
        apply_views(conn, TEST_DEID_KEY)
        # a development database, as `ess run` makes it: the tests drive the demo generator
        install_demo(conn, REPO_ROOT / "sql")
    return database_url


@pytest.fixture(scope="session")
def pool(migrated_url: str):
    pool = open_pool(migrated_url, max_size=4)
    yield pool
    pool.close()


@pytest.fixture
def conn(pool) -> Iterator[psycopg.Connection]:
    with pool.connection() as conn:
        yield conn


@pytest.fixture
def scratch_site(conn: psycopg.Connection):
    """Register a fresh site with the columns of a reference site; returns a factory."""

    def make(template_site: int = 2, rack_counts: tuple[int, ...] = (3, 2)) -> int:
        return create_scratch_site(conn, template_site, rack_counts)

    return make


@pytest.fixture
def catalog(conn: psycopg.Connection) -> Catalog:
    return load_catalog(conn)


@pytest.fixture
def client(pool) -> Iterator[TestClient]:
    """An API client that sends a token with every scope for every site (access control has
    its own tests, which build anonymous clients); create scratch sites before asking for it
    (the catalog is read at startup)."""
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        client.headers.update(bearer())
        yield client


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium for the browser tests (tests/browser.py), one per session."""
    from tests.browser import chromium

    with chromium() as browser:
        yield browser


@pytest.fixture
def anonymous_client(pool) -> Iterator[TestClient]:
    """An API client without a token."""
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        yield client
