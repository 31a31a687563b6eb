-- One page of the protection-map episodes of a site (ess.protection_episodes,
-- sql/functions/protection_map.sql), newest first, named as the answer, with the total count.
-- message: a substring of the Korean description (the earlier service's filter).
SELECT
    e.start_time,
    e.end_time,
    e.last_seen,
    e.ongoing,
    e.site_id AS operating_site,
    e.bank_id,
    e.rack_id,
    e.code AS error_code,
    e.code_name_ko,
    e.code_name_en,
    e.hazard,
    e.level,
    e.level_name_ko,
    e.level_name,
    e.peak_value,
    e.unit,
    e.readings,
    e.source,
    e.source_column,
    e.description_en,
    e.description_ko,
    count(*) OVER () AS total
FROM
    ess.protection_episodes(
        %(site)s,
        %(window_start)s,
        %(window_end)s,
        %(max_gap)s,
        p_level => %(level)s,
        p_code => %(code)s
    ) AS e
WHERE %(message)s::text IS NULL OR strpos(e.description_ko, %(message)s::text) > 0
ORDER BY
    e.start_time DESC,
    e.bank_id ASC,
    e.rack_id ASC,
    e.code ASC,
    e.level ASC,
    e.source ASC,
    e.source_column ASC
LIMIT %(page_size)s OFFSET %(page_offset)s
