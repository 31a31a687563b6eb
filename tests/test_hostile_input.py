"""Hostile input: SQL injection, very long values, odd Unicode and broken encodings in every
parameter of every operation of the OpenAPI document answer 4xx problem+json and execute
nothing; forged and misdirected tokens answer 401/403; file names cannot inject headers; very
large query strings and headers are refused cleanly."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import jwt
import pytest
from litestar.testing import TestClient

from api.app import create_app
from api.auth.tokens import SCOPE_RAW, mint
from tests.faults import Server
from tests.helpers import TEST_JWT_SECRET, bearer, settings_for_tests

CANARY = "public.hostile_input_canary"
HOSTILE = {
    "quote": "1' OR '1'='1",
    "drop": f"'; DROP TABLE {CANARY}; --",
    "sleep": 'x"); SELECT pg_sleep(30); --',
    "union": "rack_soc UNION SELECT usename FROM pg_user --",
    "long": "9" * 5000,
    "overflow": "99999999999999999999",
    "smallint overflow": "40000",
    "negative": "-1",
    "nan": "NaN",
    "nul": "a\x00b",
    "unicode": "\u202e\U0001d518\u2603\ufeff\u0301",
    "traversal": "../../../../etc/passwd",
    "newline": "a\r\nSet-Cookie: x=1",
    "odd time": "2023-04-10T25:61:00+99:00",
}
# raw percent-encodings a client library would never produce
INVALID_UTF8 = "%FF%FE%ED%A0%80"

VALID_PATH = {"site": "2", "bank": "1", "rack": "1", "data_type": "rack"}
VALID_QUERY = {
    "date": "2023-04-10",
    "start-date": "2023-04-10",
    "end-date": "2023-04-11",
    "bank": "1",
    "component": "rack",
}
# parameters that exclude each other: a hostile one goes without its partners, and the answer may
# name any of them
WINDOW = {"date", "start-time", "end-time", "period"}


def _operations(app) -> list[tuple[str, dict]]:
    document = app.openapi_schema.to_schema()
    return [
        (path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method == "get" and operation.get("parameters")
    ]


def _cases() -> list[tuple[str, str, str]]:
    """(path template, parameter location, name) of every parameter of every GET operation."""
    app = create_app(settings=settings_for_tests())
    return [
        (path, parameter["in"], parameter["name"])
        for path, operation in _operations(app)
        for parameter in operation["parameters"]
        if parameter["in"] in ("path", "query")
    ]


CASES = _cases()
QUERY: dict[str, set[str]] = {}
for _template, _location, _name in CASES:
    QUERY.setdefault(_template, set()).update({_name} if _location == "query" else set())


def _url(template: str, location: str, name: str, raw: str) -> str:
    """The operation's URL with `raw` (already percent-encoded) as parameter `name`, every other
    path segment valid, and a valid day unless the hostile parameter is part of the window."""
    path = template
    for segment, value in VALID_PATH.items():
        path = path.replace(
            "{" + segment + "}", raw if location == "path" and segment == name else value
        )
    query = [] if location == "path" else [f"{quote(name)}={raw}"]
    skipped = WINDOW if name in WINDOW else {name}
    query += [
        f"{k}={v}" for k, v in VALID_QUERY.items() if k not in skipped and k in QUERY[template]
    ]
    return path + ("?" + "&".join(query) if query else "")


@pytest.fixture(scope="module")
def api(pool):
    """One app for the whole module (its startup reads the catalog); no token of its own."""
    with TestClient(app=create_app(pool=pool, settings=settings_for_tests())) as client:
        yield client


@pytest.fixture(scope="module")
def canary(pool):
    with pool.connection() as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {CANARY} (alive boolean)")
    yield
    with pool.connection() as conn:
        assert conn.execute(f"SELECT to_regclass('{CANARY}') IS NOT NULL").fetchone()[0], (
            "an injected DROP TABLE ran"
        )
        conn.execute(f"DROP TABLE {CANARY}")


def _assert_refused(response, name: str, template: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    if "parameter" in body:
        expected = WINDOW if name in WINDOW else {name}
        if not QUERY[template]:
            # the forecasts read a window their OpenAPI operation does not list (their
            # description does), and ask for it before they look at the path
            expected |= WINDOW
        assert body["parameter"] in expected, body


# parameters whose presence is their meaning (the earlier service's `no_page`: any value, even
# none, turns paging off), so no value of theirs is refused
PRESENCE_FLAGS = {"no_page"}


@pytest.mark.parametrize(("template", "location", "name"), CASES)
def test_every_parameter_refuses_hostile_values(api, canary, template, location, name):
    # a token would open a download whatever its `signed` parameter says: check the link alone
    headers = {} if name == "signed" else bearer()
    for label, value in HOSTILE.items():
        url = _url(template, location, name, quote(value, safe=""))
        response = api.get(url, headers=headers)
        assert response.status_code != 500 and response.status_code < 500, (label, response.text)
        if response.status_code == 200:
            # a free-text value that means nothing here (a unit of nothing, an ignored field)
            # may be accepted, but only if echoing it back cannot happen
            assert value not in response.text, label
        else:
            _assert_refused(response, name, template)
    invalid = api.get(_url(template, location, name, INVALID_UTF8), headers=headers)
    if name in PRESENCE_FLAGS:
        assert invalid.status_code == 200, invalid.text[:300]
    else:
        _assert_refused(invalid, name, template)


def test_injection_never_slows_a_request(api, canary):
    started = time.monotonic()
    for template, location, name in CASES[:40]:
        api.get(_url(template, location, name, quote(HOSTILE["sleep"], safe="")), headers=bearer())
    assert time.monotonic() - started < 30


# -- tokens


def _token(
    claims: dict, key: str | None = TEST_JWT_SECRET, algorithm: str = "HS256", expires: bool = True
) -> dict:
    base = {"scope": SCOPE_RAW} | ({"exp": int(time.time()) + 600} if expires else {})
    return {"Authorization": f"Bearer {jwt.encode(base | claims, key, algorithm=algorithm)}"}


RAW = "/api/ess/operating-sites/2/banks/1/?date=2001-01-01"


@pytest.fixture
def strict_client(pool):
    """A server that checks issuer and audience."""
    settings = settings_for_tests(jwt_issuer="https://id.example", jwt_audience="ess-api")
    with TestClient(app=create_app(pool=pool, settings=settings)) as client:
        yield client


GOOD = {"iss": "https://id.example", "aud": "ess-api"}
TOKEN_CASES = {  # case: (its Authorization header, made when the test runs; the status)
    "good": (lambda: _token(GOOD), 200),
    "alg none": (lambda: _token(GOOD, None, algorithm="none"), 401),
    "future nbf": (lambda: _token({**GOOD, "nbf": int(time.time()) + 3600}), 401),
    "wrong issuer": (lambda: _token({**GOOD, "iss": "https://evil.example"}), 401),
    "no issuer": (lambda: _token({"aud": "ess-api"}), 401),
    "wrong audience": (lambda: _token({**GOOD, "aud": "other-api"}), 401),
    "site not listed": (lambda: _token({**GOOD, "sites": [3]}), 403),
    "empty site list": (lambda: _token({**GOOD, "sites": []}), 403),
    "HS384": (lambda: _token(GOOD, algorithm="HS384"), 401),
    "no exp": (lambda: _token(GOOD, expires=False), 401),
}


@pytest.fixture(params=list(TOKEN_CASES))
def token_case(request) -> tuple[str, dict, int]:
    """A case's name, its header minted now (not when the module was collected), its status."""
    make, status = TOKEN_CASES[request.param]
    return request.param, make(), status


def test_tokens_that_must_not_pass(strict_client, token_case):
    case, headers, status = token_case
    response = strict_client.get(RAW, headers=headers)
    assert response.status_code == status, (case, response.text)
    if status != 200:
        assert response.headers["content-type"].startswith("application/problem+json")


# -- headers and sizes


def test_download_file_names_cannot_inject_headers(client):
    for value in ("a\r\nSet-Cookie: x=1", 'a"; filename=evil.sh', "rack%0d%0aX-Injected: 1"):
        response = client.get(
            "/api/ess/download/operating-sites/2/" + quote(value, safe=""),
            params={"date": "2023-04-10"},
        )
        assert response.status_code in (400, 404), response.text
        assert "set-cookie" not in response.headers and "x-injected" not in response.headers


def test_a_download_names_its_file_after_the_site_only(client):
    response = client.get(
        "/api/ess/download/operating-sites/2/rack/",
        params={"date": "2023-04-10", "tz": "Asia/Seoul"},
    )
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert disposition.startswith("attachment; filename=")


@pytest.fixture(scope="module")
def served(migrated_url) -> Iterator[int]:
    """`ess serve` as a process (the HTTP server's own limits are under test); its port."""
    env = {**os.environ, "DATABASE_URL": migrated_url, "ESS_JWT_SECRET": TEST_JWT_SECRET}
    server = Server(env).start()
    try:
        yield server.port
    finally:
        server.stop()


def _raw_status(port: int, request: bytes) -> int | None:
    """The status line's code of the answer to a raw request; None when the server closed the
    connection without one."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        # the server may close the connection before it has read the whole request
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        try:
            head = sock.recv(64)
        except ConnectionResetError:
            return None
    return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else None


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET "
        + RAW.encode()
        + b"&fields="
        + b"rack_soc," * 20000
        + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET "
        + RAW.encode()
        + b" HTTP/1.1\r\nHost: x\r\nX-Padding: "
        + b"x" * 200_000
        + b"\r\n\r\n",
        b"GET " + RAW.encode() + b" HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 20000 + b"\r\n",
    ],
    ids=["180 kB query string", "200 kB header", "20000 headers"],
)
def test_very_large_requests_are_refused_cleanly(served, request_bytes):
    status = _raw_status(served, request_bytes)
    assert status is None or 400 <= status < 500, status
    # and the server still answers
    assert (
        _raw_status(served, b"GET /api/ess/operating-sites/2/ HTTP/1.1\r\nHost: x\r\n\r\n") == 200
    )


def test_minted_tokens_still_work_after_all_this(client):
    token = mint(TEST_JWT_SECRET, [SCOPE_RAW], [2], timedelta(minutes=5))
    response = client.get(RAW, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
