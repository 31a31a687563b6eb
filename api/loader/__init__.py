"""`ess load`: import operating-data exports (CSV, Parquet, feather) into the component
hypertables, validated against the catalog, idempotent, all or nothing per file."""
