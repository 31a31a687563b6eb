"""`ess token`: mint an HS256 bearer token (development and administration)."""

from __future__ import annotations

import argparse
import sys

from api.auth.keys import dev_secret
from api.auth.tokens import SCOPE_DEID, SCOPE_RAW, mint
from api.config import ConfigurationError, Settings
from api.errors import ProblemError
from api.params import parse_duration

SHORT_SCOPES = {"raw": SCOPE_RAW, "deid": SCOPE_DEID}


def _scopes(text: str) -> list[str]:
    return [SHORT_SCOPES.get(s.strip(), s.strip()) for s in text.split(",") if s.strip()]


def _sites(text: str) -> list[int] | None:
    if text.strip() in ("*", "all"):
        return None
    return [int(s) for s in text.split(",") if s.strip()]


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    access = settings.access
    try:
        secret = access.jwt_secret
        if secret is None:
            if settings.production:
                raise ConfigurationError("ess token needs ESS_JWT_SECRET")
            secret = dev_secret(settings.data_dir)
        token = mint(
            secret,
            _scopes(args.scope),
            _sites(args.sites),
            parse_duration(args.expires, "--expires"),
            subject=args.subject,
            issuer=access.jwt_issuer,
            audience=access.jwt_audience,
        )
    except (ConfigurationError, ValueError, ProblemError) as exc:
        print(f"ess token: {getattr(exc, 'detail', exc)}", file=sys.stderr)
        return 2
    print(token)
    return 0


def add_parser(sub) -> None:
    token = sub.add_parser("token", help="mint a bearer token (HS256, ESS_JWT_SECRET)")
    token.add_argument(
        "--scope",
        default="raw",
        help=f"comma-separated: raw ({SCOPE_RAW}, includes deid), deid ({SCOPE_DEID})",
    )
    token.add_argument("--sites", default="all", help="comma-separated site ids, or all")
    token.add_argument("--expires", default="1day", help="lifetime, e.g. 1hour, 30days, PT8H")
    token.add_argument("--subject", default="ess-cli", help="who the token is for (sub claim)")
