"""Signed download links: how a browser downloads raw data without putting a token in a URL.

A browser navigating to a download cannot send an Authorization header. So the page asks
POST /api/ess/download-links/ (with its bearer token) for a link bound to one download path and
query; the answer is that URL plus `signed=<base64url(msgpack([expires, nonce])) + MAC>`, the
MAC being the first 16 bytes of HMAC-SHA256 over the path, the query before `signed`, the
expiry and the nonce. The link is valid for LINK_LIFETIME_S seconds and serves one download.

- Key: derived from ESS_SIGNING_KEY (in development from the key kept under the data
  directory), so every process of every instance given that key accepts the link.
- Once: each nonce is remembered until its link expires, in this process's memory. Several
  processes behind one address would each accept a link once within its minute; a database
  table would make that exact, at the cost of a write per download. The risk is bounded anyway:
  the holder of the token can sign new links, and a leaked link dies within a minute.
- Refusals: an altered or foreign link is a 403, an expired one a 401 (ask for a new link), a
  used one a 403; all problem+json naming `signed`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from urllib.parse import urlsplit

import msgspec
from litestar import Request, post
from litestar.config.app import AppConfig
from litestar.connection import ASGIConnection
from litestar.params import JSONBody
from litestar.plugins import InitPlugin

from api.auth.tokens import SCOPE_RAW, Grant
from api.config import Settings
from api.errors import ProblemError, bad_parameter
from api.secret_files import signing_key

LINK_LIFETIME_S = 60
PARAMETER = "signed"
_MAC_BYTES = 16
_NONCE_BYTES = 12
_KEY_PURPOSE = b"ess signed download link v1"
# the downloads a link may open: raw operating data of one site
DOWNLOAD_PATH = re.compile(r"/api/ess/download/operating-sites/(?P<site>\d+)/(?P<component>\w+)/?")


class LinkRequest(msgspec.Struct):
    url: str  # a download path with its query, e.g. /api/ess/download/operating-sites/2/rack/?...


class SignedLink(msgspec.Struct):
    url: str
    expires_in: int  # seconds


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SignedLinks(InitPlugin):
    """Signs and checks links; kept in app.state.signed_links for the access policy."""

    def __init__(self, settings: Settings, lifetime_s: int = LINK_LIFETIME_S) -> None:
        self.key = signing_key(settings, _KEY_PURPOSE)
        self.lifetime_s = lifetime_s
        self._used: dict[bytes, float] = {}  # nonce -> expiry
        self._lock = threading.Lock()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state["signed_links"] = self
        app_config.route_handlers = [*app_config.route_handlers, create_download_link]
        return app_config

    def _mac(self, path: str, query: str, payload: bytes) -> bytes:
        # the router drops a trailing slash from the path it hands on: sign without it
        message = b"\0".join((path.rstrip("/").encode(), query.encode(), payload))
        return hmac.new(self.key, message, hashlib.sha256).digest()[:_MAC_BYTES]

    def sign(self, path: str, query: str, now: float | None = None) -> str:
        expires = int((now or time.time()) + self.lifetime_s)
        payload = msgspec.msgpack.encode([expires, secrets.token_bytes(_NONCE_BYTES)])
        signature = _encode(payload + self._mac(path, query, payload))
        return f"{path}?{query + '&' if query else ''}{PARAMETER}={signature}"

    def check(self, path: str, raw_query: str, now: float | None = None) -> None:
        """Accept a signed link once before it expires; 401/403 otherwise."""
        query, _, signature = raw_query.rpartition(f"{PARAMETER}=")
        query = query.removesuffix("&")
        forged = ProblemError(
            403, "the signed link was altered or was not signed by this server", PARAMETER
        )
        try:
            raw = _decode(signature)
        except (binascii.Error, ValueError):
            raise forged from None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if len(raw) <= _MAC_BYTES or not hmac.compare_digest(mac, self._mac(path, query, payload)):
            raise forged
        expires, nonce = msgspec.msgpack.decode(payload, type=tuple[int, bytes])
        now = now or time.time()
        if now >= expires:
            raise ProblemError(
                401,
                f"the signed link has expired (links last {self.lifetime_s} s); ask for a new one",
                PARAMETER,
            )
        with self._lock:
            self._used = {n: e for n, e in self._used.items() if e > now}
            if nonce in self._used:
                raise ProblemError(
                    403, "the signed link was already used; ask for a new one", PARAMETER
                )
            self._used[nonce] = expires


def link_grant(connection: ASGIConnection) -> Grant | None:
    """The grant of a valid signed link in the request (raw read of the path's site), None when
    the request carries no link; an invalid link is refused."""
    if PARAMETER not in connection.query_params:
        return None
    links: SignedLinks | None = connection.app.state.get("signed_links")
    match = DOWNLOAD_PATH.fullmatch(connection.url.path)
    if links is None or match is None:
        raise ProblemError(403, "signed links open raw downloads only", PARAMETER)
    links.check(connection.url.path, connection.scope["query_string"].decode("latin-1"))
    return Grant("signed-link", frozenset({SCOPE_RAW}), frozenset({int(match["site"])}))


@post(
    "/api/ess/download-links/",
    summary="A signed link for one raw download (for browsers)",
    description="Answers the download URL with a `signed` parameter added: valid for "
    f"{LINK_LIFETIME_S} s, for that path and query only, for one download; a browser can "
    "navigate to it without an Authorization header. Needs the token the download needs.",
    tags=["operating data"],
    status_code=200,
)
async def create_download_link(request: Request, data: JSONBody[LinkRequest]) -> SignedLink:
    parts = urlsplit(data.url)
    match = DOWNLOAD_PATH.fullmatch(parts.path)
    if parts.scheme or parts.netloc or match is None:
        raise bad_parameter(
            "url", "give a raw download path, /api/ess/download/operating-sites/{site}/{type}/?..."
        )
    if PARAMETER in {name for name, _, _ in (p.partition("=") for p in parts.query.split("&"))}:
        raise bad_parameter("url", "the URL is already signed")
    # the token must grant the download itself (its scope and that site)
    policy = request.app.plugins.get("AccessPolicy")
    policy.require(policy.grant(request), SCOPE_RAW, int(match["site"]))
    links: SignedLinks = request.app.state.signed_links
    return SignedLink(links.sign(parts.path, parts.query), links.lifetime_s)
