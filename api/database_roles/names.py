"""The group roles of migration 0006 (NOLOGIN; logins are made members of one of them)."""

API_ROLE = "ess_api"  # the HTTP API process: reads ess and ess_deid
ANALYST_ROLE = "ess_analyst"  # a person: de-identified views, catalog and analytics, nothing raw
