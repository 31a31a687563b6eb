"""`ess demo`: deterministic, realistic synthetic operating data for any site of the catalog,
generated in the database (sql/demo/demo_data.sql, installed by `ess demo` and `ess run` only),
with injected anomalies recorded in ess.demo_anomaly. See docs/demo.md."""

from api.demo.generator import DEFAULT_DEMO, DemoError, DemoReport, DemoSettings, generate
from api.demo.install import install_demo

__all__ = ["DEFAULT_DEMO", "DemoError", "DemoReport", "DemoSettings", "generate", "install_demo"]
