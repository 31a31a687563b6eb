"""HTTP access control: authentication (JWT bearer tokens), authorisation (scopes and sites,
decided per route in api/auth/policy.py) and rate limiting of anonymous requests. The database's
own roles, grants and logins are in api/database_roles."""

from api.auth.keys import dev_secret, development_token

__all__ = ["dev_secret", "development_token"]
