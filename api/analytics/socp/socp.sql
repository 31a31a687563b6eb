-- SoCP of the series over the window (ess.rack_socp, sql/functions/socp.sql): one item per
-- rack, operating state and SoC decile, its cell positions grouped by extreme (max, min), the
-- most frequent first.
WITH cell AS (
    SELECT
        c.bank_id,
        c.rack_id,
        c.charge_status,
        c.soc_range,
        c.extreme,
        c.appearances,
        c.cell_position,
        c.samples,
        json_build_object(
            'cell_position', c.cell_position,
            'count', c.appearances,
            'share', c.share,
            'mean_voltage', c.mean_voltage,
            'mean_temperature', c.mean_temperature,
            'mean_current', c.mean_current
        ) AS counted
    FROM
        ess.rack_socp(
            %(site)s, %(bank)s, %(rack)s, %(window_start)s, %(window_end)s
        ) AS c
    WHERE %(charge_status)s::text IS NULL OR c.charge_status = %(charge_status)s
)

SELECT
    %(window_end)s::timestamptz AS time,
    %(site)s::integer AS operating_site,
    cell.bank_id,
    cell.rack_id,
    %(period_days)s::double precision AS period,
    %(window_start)s::timestamptz AS start_time,
    %(window_end)s::timestamptz AS end_time,
    cell.charge_status,
    cell.soc_range,
    max(cell.samples) AS samples,
    json_build_object(
        'max', coalesce(
            json_agg(cell.counted ORDER BY cell.appearances DESC, cell.cell_position ASC)
            FILTER (WHERE cell.extreme = 'max'),
            '[]'
        ),
        'min', coalesce(
            json_agg(cell.counted ORDER BY cell.appearances DESC, cell.cell_position ASC)
            FILTER (WHERE cell.extreme = 'min'),
            '[]'
        )
    ) AS value
FROM cell
GROUP BY cell.bank_id, cell.rack_id, cell.charge_status, cell.soc_range
ORDER BY cell.bank_id, cell.rack_id, cell.charge_status, cell.soc_range
