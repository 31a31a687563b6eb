"""ExSoS (extended SoS, fuzzy) per bank (mode 1) or rack (mode 2) and time bucket: parse and
plan in api/analytics/buckets.py, one call of ess.exsos (exsos.sql), rows decoded by name."""
