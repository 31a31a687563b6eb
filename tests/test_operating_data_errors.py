"""Database trouble is a 503 problem with Retry-After, and the pool survives it."""

from __future__ import annotations

import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.db import open_pool
from api.operating_data import download, execute
from tests.helpers import bearer, settings_for_tests
from tests.operating_data_site import create_site


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        return create_site(conn)


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert "SELECT" not in response.text and "psycopg" not in response.text


@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
def test_a_cancelled_statement_is_a_503_and_the_pool_recovers(site, client, monkeypatch, accept):
    path = f"/api/ess/operating-sites/{site}/etc/"

    def cancelled(conn, *statement, **header):
        # what a real server answers when statement_timeout fires (SQLSTATE 57014)
        conn.execute("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'query_canceled'; END $$")

    with monkeypatch.context() as patch:
        patch.setattr(execute, "json_lines", cancelled)  # JSON rows
        patch.setattr(execute, "copy_csv", cancelled)  # CSV
        response = client.get(path, headers={"Accept": accept})
    assert_unavailable(response)
    assert "narrow" in response.json()["detail"]
    assert client.get(path, headers={"Accept": accept}).status_code == 200  # a clean connection


def test_an_exhausted_pool_is_a_503(site, migrated_url):
    small = open_pool(migrated_url, max_size=1)
    small.timeout = 0.5
    try:
        with TestClient(app=create_app(pool=small, settings=settings_for_tests())) as client:
            client.headers.update(bearer())
            with small.connection():
                response = client.get(f"/api/ess/operating-sites/{site}/pcs/latest/")
            assert_unavailable(response)
            assert client.get(f"/api/ess/operating-sites/{site}/pcs/latest/").status_code == 200
    finally:
        small.close()


def test_a_lost_connection_is_a_503(site, client, monkeypatch):
    def lost(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(download, "read_slice", lost)
    response = client.get(
        f"/api/ess/download/operating-sites/{site}/etc/", params={"date": "2022-05-10"}
    )
    assert_unavailable(response)
