"""`ess demo`: deterministic, realistic synthetic operating data for any site of the catalog,
generated in the database (sql/functions/demo_data.sql), with injected anomalies recorded in
ess.demo_anomaly. See docs/demo.md."""

from api.demo.generator import DEFAULT_DEMO, DemoError, DemoReport, DemoSettings, generate

__all__ = ["DEFAULT_DEMO", "DemoError", "DemoReport", "DemoSettings", "generate"]
