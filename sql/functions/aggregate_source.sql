-- Which continuous aggregate level (see sql/continuous_aggregates) answers a request for
-- site-local time buckets exactly. This is the only copy of the rule: the SQL functions (SoS,
-- ExSoS, SoL, completeness) call it, and the API's aggregate planner asks ess.aggregate_fit
-- about each level (api/analytics/aggregates/levels.sql).
--
-- A level answers when its width divides the requested width (a fixed width: months and years
-- are left to the raw rows), the window starts and ends on the level's grid, and local midnight
-- 2000-01-03 (time_bucket's origin with a time zone) is on the grid at every UTC offset the zone
-- has in the window: then every local bucket boundary is. With the +09 grid that holds for 1
-- minute and 1 hour in any whole-hour zone and for 1 day only at UTC+09:00.
--
-- The offsets are sampled daily and at the window's last instant, not only at its ends: a window
-- from December to December in Australia/Lord_Howe (+11 in summer) spans its +10:30 winter, whose
-- local days do not nest in the hour grid.
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

-- The UTC offsets of a zone in [p_start, p_end): offsets change at most a few times a year, so a
-- daily sample and the last instant see each of them.
CREATE OR REPLACE FUNCTION ess.utc_offsets(
    p_timezone text, p_start timestamptz, p_end timestamptz
) RETURNS SETOF interval
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT DISTINCT (t AT TIME ZONE p_timezone) - (t AT TIME ZONE 'UTC')
    FROM (
        SELECT generate_series(p_start, p_end - interval '1 microsecond', interval '1 day')
        UNION ALL
        SELECT p_end - interval '1 microsecond'
    ) AS sample (t)
$$;

-- The zone's UTC offset when it is the same over the whole window (given its offsets from
-- ess.utc_offsets), else NULL (and NULL for widths with months, which follow the calendar).
CREATE OR REPLACE FUNCTION ess.fixed_utc_offset(p_utc_offsets interval[], p_bucket interval)
RETURNS interval
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN
            cardinality(p_utc_offsets) = 1
            AND extract(MONTH FROM p_bucket) = 0
            AND extract(YEAR FROM p_bucket) = 0
            THEN p_utc_offsets[1]
    END
$$;

-- Each condition of the rule for one level, given the zone's UTC offsets in the window (from
-- ess.utc_offsets), so that a caller can say why a level does not fit and can test several
-- levels against one set of offsets.
CREATE OR REPLACE FUNCTION ess.aggregate_fit(
    level_width interval,
    level_origin timestamptz,
    p_bucket interval,
    p_start timestamptz,
    p_end timestamptz,
    p_utc_offsets interval[],
    OUT divides boolean,
    OUT start_on_grid boolean,
    OUT end_on_grid boolean,
    OUT offsets_on_grid boolean
)
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT
        extract(MONTH FROM p_bucket) = 0
        AND extract(YEAR FROM p_bucket) = 0
        AND extract(EPOCH FROM p_bucket) % extract(EPOCH FROM level_width) = 0,
        ess.on_grid(p_start, level_origin, level_width),
        ess.on_grid(p_end, level_origin, level_width),
        bool_and(
            ess.on_grid(
                timestamp '2000-01-03 00:00' AT TIME ZONE 'UTC' - utc_offset,
                level_origin,
                level_width
            )
        )
    FROM unnest(p_utc_offsets) AS utc_offset
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
    SELECT fit.divides AND fit.start_on_grid AND fit.end_on_grid AND fit.offsets_on_grid
    FROM ess.aggregate_fit(
        level_width,
        level_origin,
        p_bucket,
        p_start,
        p_end,
        array(SELECT ess.utc_offsets(p_timezone, p_start, p_end))
    ) AS fit
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
-- that origin, or NULL when the offset changes in the window (or the width has months).
CREATE OR REPLACE FUNCTION ess.fixed_bucket_origin(
    p_timezone text,
    p_bucket interval,
    p_start timestamptz,
    p_end timestamptz
) RETURNS timestamptz
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT
        timestamp '2000-01-03 00:00' AT TIME ZONE 'UTC'
        - ess.fixed_utc_offset(
            array(SELECT ess.utc_offsets(p_timezone, p_start, p_end)), p_bucket
        )
$$;
