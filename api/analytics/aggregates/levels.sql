-- The database's verdict on each continuous aggregate level of a component (read once per
-- application from ess.aggregate_level) for one request (ess.aggregate_fit,
-- sql/functions/aggregate_source.sql), finest first, with the zone's UTC offsets in the window.
WITH request AS (
    SELECT
        %(bucket_width)s::interval AS bucket_width,
        %(window_start)s::timestamptz AS window_start,
        %(window_end)s::timestamptz AS window_end,
        array(
            SELECT o.utc_offset
            FROM ess.utc_offsets(%(tz)s, %(window_start)s, %(window_end)s) AS o (utc_offset)
            ORDER BY o.utc_offset
        ) AS utc_offsets
),

level AS (
    SELECT
        l.relation,
        l.bucket_width,
        l.bucket_origin
    FROM
        unnest(
            %(relations)s::text[], %(widths)s::interval[], %(origins)s::timestamptz[]
        ) AS l (relation, bucket_width, bucket_origin)
)

SELECT
    l.relation,
    l.bucket_width,
    fit.divides,
    fit.start_on_grid,
    fit.end_on_grid,
    fit.offsets_on_grid,
    request.utc_offsets,
    ess.fixed_utc_offset(request.utc_offsets, request.bucket_width) AS fixed_offset
FROM request
CROSS JOIN level AS l
CROSS JOIN
    LATERAL ess.aggregate_fit(
        l.bucket_width,
        l.bucket_origin,
        request.bucket_width,
        request.window_start,
        request.window_end,
        request.utc_offsets
    ) AS fit
ORDER BY l.bucket_width
