"""Settings from the environment: one parser for every number, a clear error naming the
variable."""

from __future__ import annotations

import pytest

from api.config import ConfigurationError, Settings, env_number
from api.operating_data.settings import OperatingDataSettings


def test_env_number_reads_checks_and_names_the_variable(monkeypatch):
    monkeypatch.delenv("ESS_TEST_NUMBER", raising=False)
    assert env_number("ESS_TEST_NUMBER", 7, int) == 7
    monkeypatch.setenv("ESS_TEST_NUMBER", " 12 ")
    assert env_number("ESS_TEST_NUMBER", 7, int) == 12
    monkeypatch.setenv("ESS_TEST_NUMBER", "2.5")
    assert env_number("ESS_TEST_NUMBER", 1.0) == 2.5
    with pytest.raises(ConfigurationError, match=r"ESS_TEST_NUMBER must be an integer, got '2\.5'"):
        env_number("ESS_TEST_NUMBER", 7, int)
    monkeypatch.setenv("ESS_TEST_NUMBER", "-1")
    with pytest.raises(ConfigurationError, match="ESS_TEST_NUMBER must be at least 0, got -1"):
        env_number("ESS_TEST_NUMBER", 1.0)


@pytest.mark.parametrize(
    ("variable", "value", "make"),
    [
        ("ESS_POOL_MAX_SIZE", "0", Settings),
        ("ESS_ENGINE_PORT", "port", Settings),
        ("ESS_RATE_LIMIT_PER_SECOND", "fast", Settings),
        ("ESS_REPLICA_MAX_LAG_SECONDS", "-1", Settings),
        ("ESS_REPLICA_CHECK_SECONDS", "0", Settings),
        ("DATABASE_READ_URL", "postgresql://host:port/ess", Settings),
        ("ESS_DOWNLOAD_SLICE_ROWS", "0", OperatingDataSettings.from_env),
    ],
)
def test_every_setting_refuses_a_bad_number(monkeypatch, variable, value, make):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        make()
