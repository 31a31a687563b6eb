"""Generated requests from the OpenAPI document (schemathesis, property-based): whatever the
values of the parameters, no operation answers a server error. `make test` runs a bounded,
reproducible number of examples per operation; `make fuzz` (ESS_FUZZ_EXAMPLES) a longer random
run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from tests.faults import Server
from tests.helpers import TEST_DEID_KEY, TEST_JWT_SECRET, bearer, settings_for_tests

FUZZ_EXAMPLES = int(os.environ.get("ESS_FUZZ_EXAMPLES", "0"))
EXAMPLES = FUZZ_EXAMPLES or 6


@pytest.fixture(scope="module")
def served(migrated_url) -> Iterator[Server]:
    env = {
        **os.environ,
        "DATABASE_URL": migrated_url,
        "ESS_JWT_SECRET": TEST_JWT_SECRET,
        "ESS_DEID_KEY": TEST_DEID_KEY,
        "ESS_RATE_LIMIT_BURST": "0",
    }
    server = Server(env).start()
    try:
        yield server
    finally:
        server.stop()


# the document as the app builds it (no database needed to collect the tests)
schema = schemathesis.openapi.from_dict(
    create_app(settings=settings_for_tests()).openapi_schema.to_schema()
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not FUZZ_EXAMPLES,
    # generated cases only: schemathesis' coverage phase adds dozens of explicit cases per
    # operation whatever max_examples says; the long run shrinks what it finds
    phases=[Phase.generate, Phase.shrink] if FUZZ_EXAMPLES else [Phase.generate],
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_generated_request_is_a_server_error(case, served):
    case.call_and_validate(
        base_url=served.base, headers=bearer(), checks=[not_a_server_error], timeout=120
    )
