-- SoCP of the series over the window (ess.rack_socp, sql/functions/socp.sql): one item per
-- rack, operating state and SoC decile, its cell positions grouped by extreme (max, min), the
-- most frequent first.
SELECT
    %(window_end)s::timestamptz AS time,
    %(site)s::integer AS operating_site,
    c.bank_id,
    c.rack_id,
    %(period_days)s::double precision AS period,
    %(window_start)s::timestamptz AS start_time,
    %(window_end)s::timestamptz AS end_time,
    c.charge_status,
    c.soc_range,
    max(c.samples) AS samples,
    json_build_object(
        'max', coalesce(
            json_agg(
                json_build_object(
                    'cell_position', c.cell_position,
                    'count', c.appearances,
                    'share', c.share,
                    'mean_voltage', c.mean_voltage,
                    'mean_temperature', c.mean_temperature,
                    'mean_current', c.mean_current
                )
                ORDER BY c.appearances DESC, c.cell_position ASC
            ) FILTER (WHERE c.extreme = 'max'),
            '[]'
        ),
        'min', coalesce(
            json_agg(
                json_build_object(
                    'cell_position', c.cell_position,
                    'count', c.appearances,
                    'share', c.share,
                    'mean_voltage', c.mean_voltage,
                    'mean_temperature', c.mean_temperature,
                    'mean_current', c.mean_current
                )
                ORDER BY c.appearances DESC, c.cell_position ASC
            ) FILTER (WHERE c.extreme = 'min'),
            '[]'
        )
    ) AS value
FROM
    ess.rack_socp(
        %(site)s, %(bank)s, %(rack)s, %(window_start)s, %(window_end)s
    ) AS c
WHERE %(charge_status)s::text IS NULL OR c.charge_status = %(charge_status)s
GROUP BY c.bank_id, c.rack_id, c.charge_status, c.soc_range
ORDER BY c.bank_id, c.rack_id, c.charge_status, c.soc_range
