"""Read replicas: reads go to a replica that is up and close enough behind, else to the primary;
/api/ess/health shows each database.

On any test database (the embedded engine in `make test`), a port where nothing listens stands for
a replica that is down, and stand-ins that count the connections they lend (on the test pool) for
replicas that are up: the embedded engine serves one session, and a second pool on it does not
stand for a second database. With
ESS_TEST_READ_DATABASE_URL, one or more streaming replicas of ESS_TEST_DATABASE_URL (e.g. made
by pg_basebackup -R), the tests at the end also drive a real one: reads served in recovery, and a
replica whose replay is paused skipped once it is behind by more than the limit, then used again,
and (given two or more) every statement of one answer on one replica while the next answer goes to
the next, a download from them equal to the primary's."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import replace

import psycopg
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.config import ConfigurationError, read_database_urls
from api.deid import apply_views
from api.health import health_of
from api.operating_data.settings import OperatingDataSettings
from api.replicas import DatabaseState, ReadPools, Replica, judge
from tests.helpers import TEST_DEID_KEY, bearer, settings_for_tests, wait_for
from tests.operating_data_site import RACK_ROWS, create_site

NOBODY = "postgresql://postgres@127.0.0.1:1/ess?connect_timeout=2"  # no server on port 1
REAL_REPLICAS = os.environ.get("ESS_TEST_READ_DATABASE_URL", "").split()


class CountingPool:
    """A replica's pool stand-in: lends the test pool's connection, counts, and writes its
    name in `served` (shared by the stand-ins: which database served each statement)."""

    def __init__(self, pool, name: str = "", served: list[str] | None = None) -> None:
        self.pool = pool
        self.name = name
        self.served = served if served is not None else []
        self.lent = 0

    @contextmanager
    def connection(self, timeout: float | None = None):
        with self.pool.connection(timeout=timeout) as conn:
            self.lent += 1
            self.served.append(self.name)
            yield conn

    def close(self) -> None:
        pass


def test_the_lag_limit_decides_between_up_and_lagging():
    assert judge("replica 1", 0.0, 5.0).state == "up"
    assert judge("replica 1", 5.0, 5.0).state == "up"  # at the limit: still serves
    lagging = judge("replica 1", 5.01, 5.0)
    assert (lagging.state, lagging.serves_reads, lagging.lag_seconds) == ("lagging", False, 5.01)
    down = judge("replica 1", None, 5.0, "connection refused")
    assert (down.state, down.serves_reads, down.problem) == ("down", False, "connection refused")


def test_health_says_which_database_serves_reads():
    up, lagging = DatabaseState("replica 1", "up", 0.1), DatabaseState("replica 2", "lagging", 40)
    primary = DatabaseState("primary", "up", 0.0)
    body, status = health_of([primary, up, lagging])
    assert (status, body.status) == (200, "degraded")
    assert [d.serves_reads for d in body.databases] == [False, True, False]
    body, status = health_of([primary, lagging])  # no replica serves: the primary reads
    assert (status, body.status, body.databases[0].serves_reads) == (200, "degraded", True)
    body, status = health_of([primary])
    assert (status, body.status) == (200, "ok")
    body, status = health_of([DatabaseState("primary", "down", problem="gone"), lagging])
    assert (status, body.status) == (503, "down")


def test_database_read_url_takes_several_urls_and_names_itself_in_errors():
    two = "postgresql://a:5432/ess, postgresql://b:5432/ess"
    assert read_database_urls(two) == ("postgresql://a:5432/ess", "postgresql://b:5432/ess")
    spaced = " postgresql://a/ess   postgres://b/ess "
    assert read_database_urls(spaced) == ("postgresql://a/ess", "postgres://b/ess")
    multi_host = "postgresql://a:5432,b:5432/ess?target_session_attrs=any"
    assert read_database_urls(multi_host) == (multi_host,)
    assert read_database_urls("") == ()
    with pytest.raises(ConfigurationError, match="DATABASE_READ_URL must start with postgresql"):
        read_database_urls("mysql://a/ess")


def test_replicas_take_reads_in_turn_and_a_down_or_lagging_one_is_skipped(pool):
    pools = ReadPools(pool)
    try:
        pools.replicas = [Replica(f"replica {n}", "", CountingPool(pool)) for n in (1, 2, 3, 4)]
        states = [judge("", 0.5, 30), judge("", None, 30, "gone"), judge("", 0.0, 30)]
        for replica, state in zip(pools.replicas, [*states, judge("", 31.0, 30)], strict=True):
            replica.state = state
        for _ in range(4):
            with pools.pinned().connection() as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,)
        assert [r.pool.lent for r in pools.replicas] == [2, 0, 2, 0]
        for replica in pools.replicas:
            replica.state = judge("", None, 30, "gone")
        before = pool.get_stats().get("requests_num", 0)
        with pools.pinned().connection() as conn:  # none serves: the primary reads
            assert conn.execute("SELECT 2").fetchone() == (2,)
        assert pool.get_stats()["requests_num"] == before + 1
    finally:
        pools.close()


def test_a_down_replica_is_found_down_and_one_failing_to_connect_is_marked_down(pool):
    pools = ReadPools(pool, [NOBODY], check_interval_s=60)
    try:
        assert [s.state for s in pools.states()] == ["up", "down"]
        assert pools.states()[1].problem == "Connection refused"  # no host name
        pools.replicas[0].state = judge("replica 1", 0.0, 30.0)  # believed up since the last check
        before = pool.get_stats().get("requests_num", 0)
        with pools.pinned().connection() as conn:
            assert conn.execute("SELECT 2").fetchone() == (2,)
        assert pool.get_stats()["requests_num"] == before + 1  # the primary answered
        assert pools.replicas[0].state.state == "down"
    finally:
        pools.close()


def stand_in_replicas(pools: ReadPools, pool, count: int) -> list[str]:
    """`count` serving replica stand-ins on the test pool; the list they write their names in."""
    served: list[str] = []
    pools.replicas = [
        Replica(f"replica {n}", "", CountingPool(pool, f"replica {n}", served))
        for n in range(1, count + 1)
    ]
    for replica in pools.replicas:
        replica.state = judge(replica.name, 0.0, 30.0)
    return served


def test_a_pinned_answer_reads_every_statement_from_its_first_database(pool):
    pools = ReadPools(pool)
    try:
        served = stand_in_replicas(pools, pool, 2)
        chosen = []
        for _ in range(4):
            reads = pools.pinned()
            assert reads.database is None  # chosen at the first statement, not before
            for _ in range(3):
                with reads.connection() as conn:
                    assert conn.execute("SELECT 1").fetchone() == (1,)
            chosen.append(reads.database)
            assert served[-3:] == [reads.database] * 3
        assert chosen == ["replica 1", "replica 2", "replica 1", "replica 2"]
        reads = pools.pinned()
        with reads.connection():
            pass
        reads.replica.state = judge(reads.database, 31.0, 30.0)  # lagging since: kept
        with reads.connection():
            pass
        assert served[-2:] == [reads.database, reads.database] == ["replica 1", "replica 1"]
    finally:
        pools.close()


def test_a_pinned_replica_that_fails_fails_the_answer_and_is_marked_down(pool):
    pools = ReadPools(pool, [NOBODY], check_interval_s=60)
    try:
        (replica,) = pools.replicas
        real = replica.pool
        served = stand_in_replicas(pools, pool, 1)
        reads = pools.pinned()
        with reads.connection():
            pass
        assert reads.database == "replica 1" and served == ["replica 1"]
        pools.replicas[0].pool = real  # the replica goes away mid-answer
        with pytest.raises(psycopg.OperationalError), reads.connection():
            pass  # no other database takes over: rows of another replay position would mix
        assert pools.replicas[0].state.state == "down"
        with pools.pinned().connection() as conn:  # the next answer reads from the primary
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    finally:
        pools.close()


@pytest.fixture(scope="module")
def site(pool) -> int:
    with pool.connection() as conn:
        site_id = create_site(conn, first_id=790)
        apply_views(conn, TEST_DEID_KEY)  # its de-identified views
        return site_id


DAY = {"start-time": "2022-05-10T00:00:00", "end-time": "2022-05-11T00:00:00"}


@pytest.mark.parametrize("kind", ["download", "no_page", "de-identified download"])
def test_each_download_reads_all_its_slices_from_one_database_and_the_next_rotates(
    pool, site, kind
):
    paths = {
        "download": (f"/api/ess/download/operating-sites/{site}/rack/", {}),
        "no_page": (f"/api/ess/operating-sites/{site}/banks/1/racks/", {"no_page": ""}),
        "de-identified download": (f"/api/ess/download/di/operating-sites/{site}/rack/", {}),
    }
    path, params = paths[kind]
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        client.headers.update(bearer())
        client.headers["Accept"] = "text/csv"
        slice_rows = 10  # 30 slices of the minute of 5 racks, 18 of bank 1 (3 racks)
        client.app.state.operating_data = replace(
            OperatingDataSettings.from_env(), download_slice_rows=slice_rows
        )
        served = stand_in_replicas(client.app.state.read_pools, pool, 2)
        chosen = []
        for _ in range(4):
            served.clear()
            response = client.get(path, params={**DAY, **params})
            assert response.status_code == 200, response.text
            assert response.text.count("\n") - 1 in (RACK_ROWS, 3 * 60 - 1)  # all, or bank 1
            assert len(served) > 10, served  # a statement per slice, and the bounds first
            assert set(served) == {served[0]}, served
            chosen.append(served[0])
    assert chosen == ["replica 1", "replica 2", "replica 1", "replica 2"]


@pytest.mark.parametrize("kind", ["sought page with its count", "SoS", "ExSoS", "SoL detail"])
def test_an_answer_of_several_statements_reads_them_from_one_database(pool, site, kind):
    # longer than a day: the indicator first asks whether the minute aggregate serves it
    days = {"start-time": "2022-05-09", "end-time": "2022-05-11", "time-bucket-width": "PT1H"}
    page = {"date": "2022-05-10", "page": 2, "page_size": 50, "count": "exact"}
    paths = {  # the answer's path, its query, and the connections it takes
        # count, seek and rows: three statements in one transaction, so on one connection
        "sought page with its count": (f"/api/ess/operating-sites/{site}/banks/1/racks/", page, 1),
        "SoS": (f"/api/ess/stats/sos/operating-sites/{site}/banks/1/racks/1/", days, 2),
        "ExSoS": (f"/api/ess/stats/ex-sos/operating-sites/{site}/banks/1/", days, 2),
        "SoL detail": (
            f"/api/ess/stats/forecasting-sol-detail/operating-sites/{site}/banks/",
            {"start-date": "2022-05-10", "end-date": "2022-05-11"},
            2,
        ),
    }
    path, params, connections = paths[kind]
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        client.headers.update(bearer())
        client.app.state.operating_data = replace(
            OperatingDataSettings.from_env(), seek_min_offset=0
        )
        served = stand_in_replicas(client.app.state.read_pools, pool, 2)
        chosen = []
        for _ in range(2):
            served.clear()
            response = client.get(path, params=params)
            assert response.status_code == 200, response.text
            assert len(served) == connections and set(served) == {served[0]}, served
            chosen.append(served[0])
    assert chosen == ["replica 1", "replica 2"]


ONE_DAY = {"date": "2022-05-10"}
EVERY_FAMILY = {  # an answer of each route family: its path and its query
    "sites": ("/api/ess/operating-sites/", {}),
    "site": ("/api/ess/operating-sites/{site}/", {}),
    "latest rows": ("/api/ess/operating-sites/{site}/banks/1/racks/latest", {}),
    "aggregate": (
        "/api/ess/operating-sites/{site}/aggregate/",
        {**ONE_DAY, "component": "rack", "metrics": "avg:rack_soc"},
    ),
    "SoCP": ("/api/ess/stats/socp/operating-sites/{site}/banks/1/racks/", ONE_DAY),
    "protection episodes": ("/api/ess-feature/protectionmap/operating-sites/{site}/", ONE_DAY),
    "protection level counts": (
        "/api/ess-feature/protectionmap/operating-sites/{site}/stats/log-level-count/",
        ONE_DAY,
    ),
    "completeness": (
        "/api/ess/operating-sites/{site}/completeness/",
        {"start-date": "2022-05-10"},
    ),
    "SoL": (
        "/api/ess/stats/forecasting-sol/operating-sites/{site}/banks/",
        {"start-date": "2022-05-10", "end-date": "2022-05-11"},
    ),
    "forecast": (
        "/api/ess/stats/forecasting-rack-sos/operating-sites/{site}/banks/1/racks/",
        ONE_DAY,
    ),
    "forecast models": ("/api/ess/stats/forecasting-models/operating-sites/{site}/", {}),
}


@pytest.mark.parametrize("kind", EVERY_FAMILY)
def test_every_route_family_reads_through_the_requests_pinned_reader(pool, site, kind):
    """A route reading from the primary's pool, or from a reader of its own, would show up as
    a connection no stand-in lent, or as one request served by two databases."""
    path, params = EVERY_FAMILY[kind]
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        client.headers.update(bearer())
        served = stand_in_replicas(client.app.state.read_pools, pool, 2)
        chosen = []
        for _ in range(2):
            served.clear()
            before = pool.get_stats().get("requests_num", 0)
            response = client.get(path.format(site=site), params=params)
            assert response.status_code == 200, response.text
            lent = pool.get_stats()["requests_num"] - before  # the stand-ins lend from it too
            assert served and set(served) == {served[0]} and lent == len(served), served
            chosen.append(served[0])
    assert chosen == ["replica 1", "replica 2"]


def replica_settings(urls, **options):
    return replace(settings_for_tests(), read_urls=tuple(urls), **options)


def test_health_endpoint_shows_each_database_and_reads_still_answer(pool):
    settings = replica_settings([NOBODY], replica_check_interval_s=60)
    with TestClient(app=create_app(pool=pool, settings=settings)) as client:
        response = client.get("/api/ess/health")  # open: no token
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["status"] == "degraded"
        by_name = {d["name"]: d for d in body["databases"]}
        assert list(by_name) == ["primary", "replica 1"]
        assert by_name["primary"] == {
            "name": "primary",
            "state": "up",
            "serves_reads": True,
            "lag_seconds": 0.0,
            "problem": None,
        }
        down = by_name["replica 1"]
        assert (down["state"], down["serves_reads"], down["lag_seconds"]) == ("down", False, None)
        assert down["problem"] and "127.0.0.1" not in response.text  # no host names
        sites = client.get("/api/ess/operating-sites/")
        assert sites.status_code == 200 and sites.json()


def test_without_replicas_the_primary_reads_and_health_is_ok(client):
    body = client.get("/api/ess/health").json()
    assert body == {
        "status": "ok",
        "databases": [
            {
                "name": "primary",
                "state": "up",
                "serves_reads": True,
                "lag_seconds": 0.0,
                "problem": None,
            }
        ],
    }


# -- a real streaming replica (ESS_TEST_READ_DATABASE_URL), when the run has one ------------------


def in_recovery(pools: ReadPools) -> bool:
    with pools.pinned().connection() as conn:
        return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]


if REAL_REPLICAS:

    @pytest.mark.parametrize("replica_url", REAL_REPLICAS)
    def test_a_real_replica_serves_reads_and_is_skipped_while_its_replay_is_behind(
        pool, replica_url
    ):
        with psycopg.connect(replica_url, autocommit=True) as replica:
            assert replica.execute("SELECT pg_is_in_recovery()").fetchone()[0]
            pools = ReadPools(pool, [replica_url], max_lag_s=1.0, check_interval_s=0.2)
            try:
                assert pools.states()[1].state == "up"
                assert in_recovery(pools)  # the read went to the replica
                replica.execute("SELECT pg_wal_replay_pause()")
                with pool.connection() as conn:  # a transaction the replica will not replay
                    conn.execute("SELECT txid_current()")
                lagging = wait_for(lambda: pools.states()[1].state == "lagging" and pools.states())
                assert lagging[1].lag_seconds > 1.0
                assert not in_recovery(pools)  # the primary answers instead
                replica.execute("SELECT pg_wal_replay_resume()")
                wait_for(lambda: pools.states()[1].state == "up")
                assert in_recovery(pools)
            finally:
                replica.execute("SELECT pg_wal_replay_resume()")
                pools.close()

    @pytest.mark.parametrize("replica_url", REAL_REPLICAS)
    def test_the_api_reads_the_same_answers_from_a_real_replica(pool, replica_url):
        settings = replica_settings([replica_url], replica_check_interval_s=0.5)
        path = "/api/ess/operating-sites/"
        with TestClient(app=create_app(pool=pool, settings=settings)) as client:
            health = client.get("/api/ess/health").json()
            assert [d["serves_reads"] for d in health["databases"]] == [False, True]
            on_replica = client.get(path).json()
        with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
            assert client.get(path).json() == on_replica

    def replayed_everything(replica_url: str, pool) -> None:
        """Wait until the replica replayed all the primary wrote so far."""
        with pool.connection() as conn:
            written = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        with psycopg.connect(replica_url, autocommit=True) as replica:
            wait_for(
                lambda: replica.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (written,)
                ).fetchone()[0]
            )

    def test_each_answer_reads_from_one_real_replica_and_the_next_from_another(pool, site):
        for replica_url in REAL_REPLICAS:
            replayed_everything(replica_url, pool)
        pools = ReadPools(pool, REAL_REPLICAS, check_interval_s=60)
        try:
            assert all(state.serves_reads for state in pools.states()[1:])
            servers = []
            for _ in range(2 * len(REAL_REPLICAS)):
                reads = pools.pinned()
                seen = set()
                for _ in range(3):
                    with reads.connection() as conn:
                        seen.add(
                            conn.execute(
                                "SELECT inet_server_addr(), inet_server_port(), pg_is_in_recovery()"
                            ).fetchone()
                        )
                (server,) = seen  # the three statements on one server, a replica
                assert server[2]
                servers.append(server)
            count = len(REAL_REPLICAS)
            assert len(set(servers)) == count and servers[:count] == servers[count:]
        finally:
            pools.close()
        path = f"/api/ess/download/operating-sites/{site}/rack/"
        settings = replica_settings(REAL_REPLICAS, replica_check_interval_s=60)
        with TestClient(app=create_app(pool=pool, settings=settings)) as client:
            client.headers.update(bearer())
            client.app.state.operating_data = replace(
                OperatingDataSettings.from_env(), download_slice_rows=10
            )
            from_replicas = [client.get(path, params=DAY).text for _ in range(count)]
        with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
            client.headers.update(bearer())
            assert from_replicas == [client.get(path, params=DAY).text] * count
