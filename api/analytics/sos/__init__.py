"""SoS (State of Safety) per rack and time bucket: parse and plan in api/analytics/buckets.py,
one call of ess.rack_sos (sos.sql), rows decoded by name into the answer's items."""
