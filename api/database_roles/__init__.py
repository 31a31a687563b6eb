"""The database's own access control, apart from the HTTP API's (api/auth): the group roles'
grants over objects made after the migrations (grants.py) and the logins in them (logins.py,
`ess login`). The roles themselves and the fixed grants are in migration 0006."""
