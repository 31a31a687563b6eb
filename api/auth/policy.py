"""Who may call what, decided in one place from the route's path template.

- PUBLIC: the site catalog and the de-identified data. Anonymous by default (rate limited per
  client); with ESS_DEID_REQUIRE_TOKEN a token with ess:deid:read (or ess:raw:read) and the site.
- OPEN: the entry page, the OpenAPI documents, the web UI's files and the health check (for load
  balancers; it names no host).
- RAW: everything else, including every route added later: a token with ess:raw:read and, when
  the route names an operating site, that site. Analytics are derived from raw data (protection
  events even come from the BMS's fault flags), so they are raw too.

Deny by default: a new endpoint is raw until its path is listed here.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import replace
from functools import lru_cache

from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPlugin, ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from api.auth.keys import token_keys
from api.auth.ratelimit import RateLimiter, client_address
from api.auth.signed_links import link_grant
from api.auth.tokens import SCOPE_DEID, SCOPE_RAW, Grant, TokenError
from api.config import ConfigurationError, Settings
from api.errors import PROBLEM_JSON, Problem, ProblemError


class Access(enum.Enum):
    OPEN = "open"
    PUBLIC = "public"
    RAW = "raw"


_SITE = r"\{site(:\w+)?\}"
RULES = (
    (re.compile(r"/|/schema(/.*)?|/ui(/.*)?|/api/ess/health"), Access.OPEN),
    (re.compile(rf"/api/ess/operating-sites(/{_SITE})?/?"), Access.PUBLIC),
    (re.compile(r"/api/ess/(download/)?di/.*"), Access.PUBLIC),
)
# how the routes of this API name the operating site in the path
SITE_PARAMETERS = ("site", "site_id", "operating_site_id")
SCHEME = "bearerAuth"
REALM = 'Bearer realm="ess"'


@lru_cache(maxsize=1024)
def access_for(path_template: str) -> Access:
    for pattern, access in RULES:
        if pattern.fullmatch(path_template):
            return access
    return Access.RAW


def _unauthorized(detail: str, error: str | None = None) -> ProblemError:
    challenge = REALM if error is None else f'{REALM}, error="{error}"'
    return ProblemError(401, detail, "Authorization", {"WWW-Authenticate": challenge})


def _forbidden(detail: str, scope: str) -> ProblemError:
    challenge = f'{REALM}, error="insufficient_scope", scope="{scope}"'
    return ProblemError(403, detail, "Authorization", {"WWW-Authenticate": challenge})


class AccessPolicy(InitPlugin, ReceiveRoutePlugin):
    """A Litestar plugin: one guard on the whole app, and the security of every operation in
    the OpenAPI document, both from `access_for`."""

    def __init__(self, settings: Settings) -> None:
        access = settings.access
        self.keys = token_keys(settings)
        self.public_requires_token = access.public_requires_token
        if access.rate_limit_burst > 0 and access.rate_limit_per_second <= 0:
            raise ConfigurationError("ESS_RATE_LIMIT_PER_SECOND must be positive")
        self.limiter = RateLimiter(access.rate_limit_burst, access.rate_limit_per_second)
        self.trusted_proxies = access.trusted_proxies

    # -- requests

    def guard(self, connection: ASGIConnection, _: BaseRouteHandler) -> None:
        access = access_for(connection.scope.get("path_template", connection.url.path))
        if access is Access.OPEN or connection.scope.get("method") == "OPTIONS":
            return
        if "access_token" in connection.query_params:
            # a token in a URL ends up in access logs, proxies and browser history
            raise ProblemError(
                400,
                "tokens are accepted only in the Authorization header (Bearer), never in the URL",
                "access_token",
            )
        grant = self.grant(connection)
        site = next(
            (connection.path_params[p] for p in SITE_PARAMETERS if p in connection.path_params),
            None,
        )
        if access is Access.PUBLIC:
            if grant is None and not self.public_requires_token:
                self.rate_limit(connection)
                return
            if grant is not None and not self.public_requires_token:
                return
            self.require(grant, SCOPE_DEID, site)
            return
        self.require(grant, SCOPE_RAW, site)

    def grant(self, connection: ASGIConnection) -> Grant | None:
        header = connection.headers.get("authorization")
        if header is None:
            # a browser's raw download: a signed link, or nothing
            return link_grant(connection)
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized(
                "the Authorization header must be 'Bearer <token>'", "invalid_request"
            )
        if not self.keys.configured:
            raise _unauthorized(
                "this server has no key to verify tokens (set ESS_JWT_SECRET or "
                "ESS_JWT_PUBLIC_KEY)",
                "invalid_token",
            )
        try:
            return self.keys.verify(token.strip())
        except TokenError as exc:
            raise _unauthorized(str(exc), "invalid_token") from None

    def require(self, grant: Grant | None, scope: str, site) -> None:
        if grant is None:
            raise _unauthorized(f"this endpoint needs a bearer token with the scope {scope}")
        if not grant.allows_scope(scope):
            raise _forbidden(f"the token lacks the scope {scope}", scope)
        site_id = site if isinstance(site, int) else None
        if not grant.allows_site(site_id):
            where = f"operating site {site_id}" if site_id is not None else "all operating sites"
            raise _forbidden(f"the token does not grant access to {where}", scope)

    def rate_limit(self, connection: ASGIConnection) -> None:
        if not self.limiter.enabled:
            return
        client = client_address(
            connection.client.host if connection.client else None,
            connection.headers.getall("x-forwarded-for", []),
            self.trusted_proxies,
        )
        wait = self.limiter.acquire(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ProblemError(
                429,
                f"too many requests from {client}; retry in {seconds} s, or use a token",
                None,
                {"Retry-After": str(seconds)},
            )

    # -- application and OpenAPI

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.guards = [*app_config.guards, self.guard]
        if app_config.openapi_config is not None:
            scheme = SecurityScheme(
                type="http",
                scheme="bearer",
                bearer_format="JWT",
                description=f"JWT with the scope {SCOPE_RAW} for raw operating data and "
                f"analytics, or {SCOPE_DEID}; an optional `sites` claim limits the sites. "
                "Mint one with `ess token`.",
            )
            # set in place: dataclasses.replace would run OpenAPIConfig.__post_init__ again,
            # which warns about the deprecated attributes the first run filled in
            config = app_config.openapi_config
            components = config.components
            config.components = [
                *(components if isinstance(components, list) else [components]),
                Components(security_schemes={SCHEME: scheme}),
            ]
        return app_config

    def receive_route(self, route: BaseRoute) -> None:
        if not isinstance(route, HTTPRoute):
            return
        access = access_for(route.path_format)
        if access is Access.OPEN:
            return
        for handler in route.route_handlers:
            self._document(handler, access)

    def _document(self, handler: HTTPRouteHandler, access: Access) -> None:
        problem = ResponseSpec(Problem, generate_examples=False, media_type=PROBLEM_JSON)
        responses = dict(handler.responses or {})
        if access is Access.RAW:
            handler.security = [{SCHEME: [SCOPE_RAW]}]
            responses.setdefault(401, replace(problem, description="Missing or invalid token"))
            responses.setdefault(
                403, replace(problem, description="The token lacks the scope or the site")
            )
        elif self.public_requires_token:
            handler.security = [{SCHEME: [SCOPE_DEID]}]
            responses.setdefault(401, replace(problem, description="Missing or invalid token"))
            responses.setdefault(403, replace(problem, description="The token lacks the site"))
        else:
            # public: anonymous, or with a token (exempt from the rate limit)
            handler.security = [{}, {SCHEME: [SCOPE_DEID]}]
            responses.setdefault(401, replace(problem, description="Invalid token"))
            responses.setdefault(
                429, replace(problem, description="Rate limit exceeded; see Retry-After")
            )
        handler.responses = responses
