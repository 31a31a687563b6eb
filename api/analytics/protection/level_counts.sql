-- Protection-map readings (one level each: level_count) and episodes started (episode_count)
-- per local time bucket and level (ess.protection_level_counts,
-- sql/functions/protection_map.sql), newest bucket first, named as the answer.
SELECT
    c.bucket AS time,
    %(site)s::integer AS operating_site,
    c.level,
    c.level_count,
    c.episode_count
FROM
    ess.protection_level_counts(
        %(site)s, %(window_start)s, %(window_end)s, %(bucket_width)s, %(max_gap)s
    ) AS c
ORDER BY c.bucket DESC, c.level ASC
