"""JWT bearer tokens: what they grant, how they are checked, how `ess token` mints them.

Claims: `scope` (space-separated, RFC 8693 style; a list is accepted too), `sites` (a list of
operating-site ids; absent means every site), `exp` (required), `sub`, and `iss`/`aud` when the
server is configured to check them. HS256 tokens are verified with ESS_JWT_SECRET; RS256 tokens
(issued elsewhere, e.g. by an identity provider) with ESS_JWT_PUBLIC_KEY. The algorithm is chosen
by the key the server holds, never by the token alone, and `none` is never accepted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import jwt

SCOPE_RAW = "ess:raw:read"
SCOPE_DEID = "ess:deid:read"
SCOPES = (SCOPE_RAW, SCOPE_DEID)
# raw read includes the de-identified data: it is the same data with the real names
IMPLIED = {SCOPE_RAW: {SCOPE_DEID}}
LEEWAY_S = 30


class TokenError(Exception):
    """The token is missing, malformed, badly signed or expired (401)."""


@dataclass(frozen=True)
class Grant:
    subject: str | None
    scopes: frozenset[str]
    sites: frozenset[int] | None  # None: every site

    def allows_scope(self, scope: str) -> bool:
        return scope in self.scopes or any(scope in IMPLIED.get(s, ()) for s in self.scopes)

    def allows_site(self, site_id: int | None) -> bool:
        """A route without a site is allowed only to a token not restricted to some sites."""
        if self.sites is None:
            return True
        return site_id is not None and site_id in self.sites


@dataclass(frozen=True)
class TokenKeys:
    secret: str | None = None  # HS256
    public_key: str | None = None  # RS256, PEM
    issuer: str | None = None
    audience: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.secret or self.public_key)

    def verify(self, token: str) -> Grant:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
        key = {"HS256": self.secret, "RS256": self.public_key}.get(algorithm)
        if not key:
            raise TokenError(f"tokens signed with {algorithm!r} are not accepted here")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_S,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("the token has expired") from None
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {exc}") from None
        return Grant(
            subject=claims.get("sub"),
            scopes=_scopes(claims.get("scope", claims.get("scp"))),
            sites=_sites(claims.get("sites")),
        )


def _scopes(value) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return frozenset(value)
    if value is None:
        return frozenset()
    raise TokenError("the scope claim must be a space-separated string or a list of strings")


def _sites(value) -> frozenset[int] | None:
    if value is None or value == "*":
        return None
    if isinstance(value, list) and all(
        isinstance(s, int) and not isinstance(s, bool) for s in value
    ):
        return frozenset(value)
    raise TokenError("the sites claim must be a list of operating-site ids, or '*'")


def mint(
    secret: str,
    scopes: list[str],
    sites: list[int] | None,
    expires_in: timedelta,
    subject: str = "ess-cli",
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """An HS256 token (for development and administration)."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise ValueError(
            f"unknown scope(s) {', '.join(sorted(unknown))}; known: {', '.join(SCOPES)}"
        )
    now = int(time.time())
    claims: dict = {
        "sub": subject,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + int(expires_in.total_seconds()),
    }
    if sites is not None:
        claims["sites"] = sorted(sites)
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
