"""The test database, in order: ESS_TEST_DATABASE_URL; a TimescaleDB container when a Docker
daemon answers; otherwise the embedded engine, started for this test session on a free port.

Tests never depend on data they did not create: each test that stores rows registers its own
site with ess.add_site_like() (see the `scratch_site` fixture)."""

from __future__ import annotations

import itertools
import os
import socket
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.auth.settings import AccessSettings
from api.auth.tokens import SCOPES, mint
from api.catalog.model import Catalog, load_catalog
from api.config import REPO_ROOT, Settings
from api.db import connect, open_pool
from api.deid import apply_views
from api.engine import EmbeddedEngine
from api.migrate import migrate

TIMESCALE_IMAGE = "timescale/timescaledb:2.23.0-pg17"
# secrets of the test session only
TEST_JWT_SECRET = "test-jwt-secret-" + "0123456789abcdef" * 2
TEST_DEID_KEY = "test-deid-key-" + "fedcba9876543210" * 2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        with tempfile.TemporaryDirectory(prefix="ess-test-engine-") as tmp:
            engine = EmbeddedEngine(Path(tmp) / "engine", port=free_port())
            engine.start()
            try:
                yield engine.url
            finally:
                engine.stop()


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    with connect(database_url) as conn:
        migrate(conn, REPO_ROOT / "sql")
        apply_views(conn, TEST_DEID_KEY)
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


_site_ids = itertools.count(900)


def create_scratch_site(
    conn: psycopg.Connection,
    template_site: int = 2,
    rack_counts: tuple[int, ...] = (3, 2),
    timezone: str = "Asia/Seoul",
) -> int:
    """Register a fresh site with the columns of a reference site (for module-scoped fixtures
    that hold a pool connection only while they set up)."""
    site_id = next(_site_ids)
    while conn.execute("SELECT 1 FROM ess.site WHERE site_id = %s", (site_id,)).fetchone():
        site_id = next(_site_ids)
    conn.execute(
        "SELECT ess.add_site_like(%s::smallint, %s, %s, %s::smallint, %s::smallint[], %s)",
        (
            site_id,
            f"test{site_id}",
            f"Test site {site_id}",
            template_site,
            list(rack_counts),
            timezone,
        ),
    )
    return site_id


@pytest.fixture
def scratch_site(conn: psycopg.Connection):
    """Register a fresh site with the columns of a reference site; returns a factory."""

    def make(template_site: int = 2, rack_counts: tuple[int, ...] = (3, 2)) -> int:
        return create_scratch_site(conn, template_site, rack_counts)

    return make


@pytest.fixture
def catalog(conn: psycopg.Connection) -> Catalog:
    return load_catalog(conn)


def settings_for_tests(**access) -> Settings:
    """Settings of a test app: the test JWT secret, no rate limit unless asked for."""
    options = {"jwt_secret": TEST_JWT_SECRET, "rate_limit_burst": 0, **access}
    return Settings(environment="development", access=AccessSettings(**options))


def assert_problem(response, status: int, parameter: str | None = None) -> dict:
    """An RFC 9457 problem with this status (naming this parameter, if given); its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if parameter is not None:
        assert body["parameter"] == parameter, body
    return body


def bearer(scopes=SCOPES, sites: list[int] | None = None, expires_s: float = 3600) -> dict:
    """Authorization header with a token signed by the test secret."""
    token = mint(TEST_JWT_SECRET, list(scopes), sites, timedelta(seconds=expires_s))
    return {"Authorization": f"Bearer {token}"}


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
