-- Whether a continuous aggregate level (see sql/continuous_aggregates) answers a request for
-- site-local time buckets exactly, so SQL functions can read it instead of the raw rows: the
-- level's width divides the requested width (a fixed width: months and years are left to the
-- raw rows), the window starts and ends on the level's grid, and local midnight 2000-01-03
-- (time_bucket's origin with a time zone) at the zone's UTC offsets at the window's start and
-- end is on the grid too. With the +09 grid that holds for 1 minute and 1 hour in any
-- whole-hour zone and for 1 day only at UTC+09:00. The same rule as api/analytics/aggregates.py.
--
--   SELECT ess.aggregate_serves('rack_1h', '1 day', '2022-05-01 00:00+09', '2022-06-01 00:00+09',
--                               'Asia/Seoul');

CREATE OR REPLACE FUNCTION ess.on_grid(
    instant timestamptz, origin timestamptz, width interval
) RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT extract(EPOCH FROM instant - origin) % extract(EPOCH FROM width) = 0
$$;

CREATE OR REPLACE FUNCTION ess.aggregate_fits(
    level_width interval,
    level_origin timestamptz,
    p_bucket interval,
    p_start timestamptz,
    p_end timestamptz,
    p_timezone text
) RETURNS boolean
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT
        extract(MONTH FROM p_bucket) = 0
        AND extract(YEAR FROM p_bucket) = 0
        AND extract(EPOCH FROM p_bucket) % extract(EPOCH FROM level_width) = 0
        AND ess.on_grid(p_start, level_origin, level_width)
        AND ess.on_grid(p_end, level_origin, level_width)
        AND bool_and(
            ess.on_grid(
                timestamp '2000-01-03 00:00' AT TIME ZONE 'UTC'
                - ((instant AT TIME ZONE p_timezone) - (instant AT TIME ZONE 'UTC')),
                level_origin,
                level_width
            )
        )
    FROM unnest(ARRAY[p_start, p_end - interval '1 microsecond']) AS instant
$$;

-- Whether the real-time aggregate ess.<relation> serves the request (false if it does not exist).
CREATE OR REPLACE FUNCTION ess.aggregate_serves(
    relation text,
    p_bucket interval,
    p_start timestamptz,
    p_end timestamptz,
    p_timezone text
) RETURNS boolean
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(
        bool_or(
            level.real_time
            AND ess.aggregate_fits(
                level.bucket_width, level.bucket_origin, p_bucket, p_start, p_end, p_timezone
            )
        ),
        FALSE
    )
    FROM ess.aggregate_level AS level
    WHERE level.relation = aggregate_serves.relation
$$;

-- time_bucket(width, ts, timezone) converts every row to local time; when the zone keeps one
-- UTC offset over the whole window (always in Seoul), the same local buckets come from the
-- plain time_bucket with a fixed origin: local midnight 2000-01-03 at that offset. This returns
-- that origin, or NULL when the offset changes in the window (or the width has months, which
-- follow the calendar). The offset is sampled daily and at the window's last instant.
CREATE OR REPLACE FUNCTION ess.fixed_bucket_origin(
    p_timezone text,
    p_bucket interval,
    p_start timestamptz,
    p_end timestamptz
) RETURNS timestamptz
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT timestamp '2000-01-03 00:00' AT TIME ZONE 'UTC' - min(sample.utc_offset)
    FROM (
        SELECT (t AT TIME ZONE p_timezone) - (t AT TIME ZONE 'UTC') AS utc_offset
        FROM generate_series(p_start, p_end - interval '1 microsecond', interval '1 day') AS t
        UNION ALL
        SELECT
            ((p_end - interval '1 microsecond') AT TIME ZONE p_timezone)
            - ((p_end - interval '1 microsecond') AT TIME ZONE 'UTC')
    ) AS sample
    HAVING
        count(DISTINCT sample.utc_offset) = 1
        AND extract(MONTH FROM p_bucket) = 0
        AND extract(YEAR FROM p_bucket) = 0
$$;
