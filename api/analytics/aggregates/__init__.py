"""Time-bucketed aggregates of the operating data (GET .../aggregate/ and the specification's
five average endpoints).

parse.py   query -> AggregateRequest (metrics against the site's numeric columns, window, width)
sql.py     aggregate_levels: the database's verdict on each continuous aggregate level of the
           component for this request (ess.aggregate_fit, the one copy of the rule in
           sql/functions/aggregate_source.sql; the level catalog itself is read once per
           application); build_query: the planned statement
plan.py    work bounds, then the coarsest level that fits and holds the metrics' inputs, else
           raw rows within the raw-row budget (a 400 naming why the levels cannot serve)
routes.py  parse -> levels (SQL) -> plan -> SQL -> respond, header Aggregate-Source

Buckets are always the site's local buckets, `time_bucket(width, t, timezone => site tz)` (or
its fixed-origin equivalent where the zone keeps one UTC offset over the window), on raw rows
and on aggregate rows alike, so the answer does not depend on the source chosen.
"""
