-- The continuous aggregate levels of a component with the database's verdict on a request
-- (ess.aggregate_levels_for, sql/functions/aggregate_source.sql), finest first, and the time
-- zone's UTC offsets in the window.
WITH request AS (
    SELECT
        %(component)s::text AS component,
        %(bucket_width)s::interval AS bucket_width,
        %(window_start)s::timestamptz AS window_start,
        %(window_end)s::timestamptz AS window_end,
        %(tz)s::text AS timezone
),

zone AS (
    SELECT
        array(
            SELECT o.utc_offset
            FROM
                ess.utc_offsets(
                    request.timezone, request.window_start, request.window_end
                ) AS o (utc_offset)
            ORDER BY o.utc_offset
        ) AS utc_offsets,
        ess.fixed_utc_offset(
            request.timezone, request.bucket_width, request.window_start, request.window_end
        ) AS fixed_offset
    FROM request
)

SELECT
    l.relation,
    l.bucket_width,
    l.column_names,
    l.divides,
    l.start_on_grid,
    l.end_on_grid,
    l.offsets_on_grid,
    zone.utc_offsets,
    zone.fixed_offset
FROM request
CROSS JOIN zone
CROSS JOIN
    LATERAL ess.aggregate_levels_for(
        request.component,
        request.bucket_width,
        request.window_start,
        request.window_end,
        request.timezone
    ) AS l
ORDER BY l.bucket_width
