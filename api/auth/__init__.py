"""Authentication (JWT bearer tokens), authorisation (scopes and sites, decided per route in
api/auth/policy.py), rate limiting of anonymous requests, and the database roles' grants."""

from api.auth.settings import dev_secret, development_token

__all__ = ["dev_secret", "development_token"]
