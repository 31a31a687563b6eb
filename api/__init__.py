"""ESS data platform: operating data and safety analytics of battery storage on TimescaleDB."""
