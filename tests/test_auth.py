"""Authentication and authorisation: the token matrix on raw and public endpoints, deny by
default for every route, rate limiting, trusted proxies, RS256, OpenAPI security, secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import stat
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar, get
from litestar.params import FromPath
from litestar.testing import TestClient

from api.app import create_app
from api.auth import dev_secret, development_token
from api.auth.policy import Access, AccessPolicy, access_for
from api.auth.ratelimit import RateLimiter, client_address
from api.auth.tokens import SCOPE_DEID, SCOPE_RAW, mint
from api.cli import main
from api.config import AccessSettings, ConfigurationError, Settings, parse_networks
from api.deid import dev_key
from api.errors import EXCEPTION_HANDLERS
from tests.helpers import TEST_JWT_SECRET, assert_problem, bearer, settings_for_tests

RAW = "/api/ess/operating-sites/2/banks/1/"
RAW_PARAMS = {"date": "2001-01-01"}
DEID = "/api/ess/di/operating-sites/2/banks/1/"
CATALOG = "/api/ess/operating-sites/2/"


def forged() -> dict:
    token = mint("x" * 40, [SCOPE_RAW], None, timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


TOKENS = {
    "none": {},
    "bad signature": forged(),
    "expired": bearer(expires_s=-120),  # beyond the 30 s leeway
    "wrong scope": bearer(scopes=[SCOPE_DEID]),
    "wrong site": bearer(sites=[3]),
    "good": bearer(sites=[2]),
}


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("none", 401),
        ("bad signature", 401),
        ("expired", 401),
        ("wrong scope", 403),
        ("wrong site", 403),
        ("good", 200),
    ],
)
def test_raw_endpoints_need_the_raw_scope_and_the_site(anonymous_client, case, status):
    response = anonymous_client.get(RAW, params=RAW_PARAMS, headers=TOKENS[case])
    if status == 200:
        assert response.status_code == 200, response.text
        return
    problem = assert_problem(response, status)
    assert problem["parameter"] == "Authorization"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer")
    if status == 403:
        assert 'error="insufficient_scope"' in challenge and SCOPE_RAW in challenge
    if case in ("bad signature", "expired"):
        assert 'error="invalid_token"' in challenge
    if case == "expired":
        assert "expired" in problem["detail"]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("none", 200),
        ("bad signature", 401),
        ("expired", 401),
        ("wrong scope", 200),
        ("wrong site", 200),
        ("good", 200),
    ],
)
@pytest.mark.parametrize("path", [DEID, CATALOG])
def test_public_endpoints_are_open_but_refuse_a_bad_token(anonymous_client, path, case, status):
    response = anonymous_client.get(
        path, params={"date": "2001-01-01"} if path == DEID else None, headers=TOKENS[case]
    )
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, status)


@pytest.fixture
def token_required_client(pool):
    with TestClient(
        app=create_app(pool=pool, settings=settings_for_tests(public_requires_token=True))
    ) as client:
        yield client


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("none", 401),
        ("bad signature", 401),
        ("expired", 401),
        ("wrong site", 403),
        ("good", 200),
    ],
)
@pytest.mark.parametrize("path", [DEID, CATALOG])
def test_public_endpoints_can_require_a_token(token_required_client, path, case, status):
    response = token_required_client.get(
        path, params={"date": "2001-01-01"} if path == DEID else None, headers=TOKENS[case]
    )
    if status == 200:
        assert response.status_code == 200, response.text
    else:
        assert_problem(response, status)
    # the de-identified scope alone is enough there
    ok = token_required_client.get(path, headers=bearer(scopes=[SCOPE_DEID], sites=[2]))
    assert ok.status_code in (200, 400)  # 400: the di page without a window is fine


def test_tokens_are_refused_in_the_query_string(anonymous_client):
    token = bearer()["Authorization"].split()[1]
    problem = assert_problem(
        anonymous_client.get(RAW, params={"access_token": token, **RAW_PARAMS}), 400
    )
    assert problem["parameter"] == "access_token"
    assert token not in problem["detail"]


def test_malformed_authorization_headers_are_401(anonymous_client):
    for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt"):
        response = anonymous_client.get(RAW, params=RAW_PARAMS, headers={"Authorization": header})
        assert_problem(response, 401)


def concrete(path: str) -> str:
    values = {"site": "2", "bank": "1", "rack": "1", "data_type": "rack"}
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


def test_every_route_is_raw_unless_listed_as_public(anonymous_client):
    """Deny by default: each route of the app, called without a token, is refused unless its
    path is one of the public ones."""
    public = 0
    for route in anonymous_client.app.routes:
        if "GET" not in getattr(route, "methods", ()):
            continue
        path = route.path_format or "/"
        response = anonymous_client.get(concrete(path))
        if access_for(path) is Access.RAW:
            assert response.status_code == 401, path
            assert path.startswith("/api/") and "/di/" not in path
        else:
            public += 1
            assert response.status_code != 401, path
    assert public >= 10


def test_a_new_endpoint_is_protected_by_default():
    @get("/api/ess/brand-new/{site:int}/thing", sync_to_thread=False)
    def brand_new(site: FromPath[int]) -> dict:
        return {"site": site}

    app = Litestar(
        route_handlers=[brand_new],
        plugins=[AccessPolicy(settings_for_tests())],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app=app) as client:
        assert client.get("/api/ess/brand-new/2/thing").status_code == 401
        assert (
            client.get("/api/ess/brand-new/2/thing", headers=bearer(sites=[1])).status_code == 403
        )
        assert client.get("/api/ess/brand-new/2/thing", headers=bearer(sites=[2])).json() == {
            "site": 2
        }


def test_a_site_limited_token_cannot_use_routes_without_a_site():
    @get("/api/ess/stats/everything", sync_to_thread=False)
    def everything() -> dict:
        return {}

    app = Litestar(
        route_handlers=[everything],
        plugins=[AccessPolicy(settings_for_tests())],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    with TestClient(app=app) as client:
        assert client.get("/api/ess/stats/everything", headers=bearer(sites=[2])).status_code == 403
        assert client.get("/api/ess/stats/everything", headers=bearer()).status_code == 200


def hs256_by_hand(claims: dict, key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = json.dumps({"alg": "HS256", "typ": "JWT"}).encode()
    signing_input = f"{part(header)}.{part(json.dumps(claims).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{part(signature)}"


def test_rs256_tokens_verify_with_the_public_key_and_alg_confusion_fails():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    @get("/api/ess/operating-sites/{site:int}/secret", sync_to_thread=False)
    def secret(site: FromPath[int]) -> dict:
        return {"ok": True}

    settings = Settings(access=AccessSettings(jwt_secret=None, jwt_public_key=public_pem))
    app = Litestar(
        route_handlers=[secret],
        plugins=[AccessPolicy(settings)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    claims = {"scope": SCOPE_RAW, "exp": int(time.time()) + 60}
    good = jwt.encode(claims, private, algorithm="RS256")
    with TestClient(app=app) as client:
        url = "/api/ess/operating-sites/2/secret"
        assert client.get(url, headers={"Authorization": f"Bearer {good}"}).json() == {"ok": True}
        # an HS256 token keyed with the (public) public key must not pass for an RS256 one
        confused = hs256_by_hand(claims, public_pem.encode())
        unsigned = jwt.encode(claims, None, algorithm="none")
        hs256 = mint("y" * 40, [SCOPE_RAW], None, timedelta(minutes=1))
        for token in (confused, unsigned, hs256):
            response = client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401


def test_rate_limit_answers_429_with_retry_after(pool):
    settings = settings_for_tests(rate_limit_burst=3, rate_limit_per_second=0.05)
    with TestClient(app=create_app(pool=pool, settings=settings)) as client:
        statuses = [client.get(CATALOG).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
        limited = client.get(CATALOG)
        problem = assert_problem(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        assert "retry" in problem["detail"]
        # a token holder is not limited, and the documents stay reachable
        assert client.get(CATALOG, headers=bearer(scopes=[SCOPE_DEID])).status_code == 200
        assert client.get("/schema/openapi.json").status_code == 200


def test_the_bucket_refills_at_the_configured_rate():
    now = [0.0]
    limiter = RateLimiter(burst=2, per_second=1.0, clock=lambda: now[0])
    assert [limiter.acquire("a"), limiter.acquire("a")] == [0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0  # one bucket per client
    now[0] = 1.0
    assert limiter.acquire("a") == 0.0


def test_the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy():
    proxies = parse_networks("10.0.0.0/8, ::1")
    # an untrusted peer cannot claim another address
    assert client_address("203.0.113.9", ["198.51.100.1"], proxies) == "203.0.113.9"
    assert client_address("10.0.0.2", ["198.51.100.1"], proxies) == "198.51.100.1"
    # the client's own X-Forwarded-For entries left of the last untrusted hop are ignored
    assert client_address("10.0.0.2", ["6.6.6.6, 198.51.100.1, 10.0.0.3"], proxies) == (
        "198.51.100.1"
    )
    assert client_address("::1", [], proxies) == "::1"
    assert client_address("203.0.113.9", [], ()) == "203.0.113.9"


def test_openapi_documents_the_security_of_every_operation(anonymous_client):
    schema = anonymous_client.get("/schema/openapi.json").json()
    scheme = schema["components"]["securitySchemes"]["bearerAuth"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    raw = schema["paths"]["/api/ess/operating-sites/{site}/banks/{bank}"]["get"]
    assert raw["security"] == [{"bearerAuth": [SCOPE_RAW]}]
    assert {"401", "403"} <= set(raw["responses"])
    di = schema["paths"]["/api/ess/di/operating-sites/{site}/banks/{bank}"]["get"]
    assert di["security"] == [{}, {"bearerAuth": [SCOPE_DEID]}]
    assert "429" in di["responses"]
    catalog = schema["paths"]["/api/ess/operating-sites"]["get"]
    assert catalog["security"] == [{}, {"bearerAuth": [SCOPE_DEID]}]


def test_production_refuses_to_start_without_a_token_key(tmp_path):
    settings = Settings(
        environment="production", data_dir=tmp_path, access=AccessSettings(jwt_secret=None)
    )
    with pytest.raises(ConfigurationError, match="ESS_JWT_SECRET"):
        AccessPolicy(settings)
    with pytest.raises(ConfigurationError, match="at least 32"):
        AccessPolicy(Settings(access=AccessSettings(jwt_secret="short")))


def test_development_secrets_are_private_and_stable(tmp_path):
    secret, key = dev_secret(tmp_path), dev_key(tmp_path)
    assert len(secret) == len(key) == 64 and secret != key
    assert dev_secret(tmp_path) == secret and dev_key(tmp_path) == key
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the token `make run` prints is accepted by a development server on the same data dir
    settings = Settings(data_dir=tmp_path, access=AccessSettings(jwt_secret=None))
    grant = AccessPolicy(settings).keys.verify(development_token(settings))
    assert grant.allows_scope(SCOPE_RAW) and grant.sites is None


def test_ess_token_mints_what_the_server_accepts(monkeypatch, capsys):
    monkeypatch.setenv("ESS_JWT_SECRET", TEST_JWT_SECRET)
    assert main(["token", "--scope", "deid", "--sites", "2,3", "--expires", "2hours"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
    assert claims["scope"] == SCOPE_DEID and claims["sites"] == [2, 3]
    assert 7100 < claims["exp"] - claims["iat"] <= 7200
    assert main(["token", "--scope", "root"]) == 2
    assert "unknown scope" in capsys.readouterr().err
