-- SoCP of the series for each requested day and its period (ess.rack_socp,
-- sql/functions/socp.sql): one item per day, rack, operating state and SoC decile. `value` keys
-- the cell positions seen as the rack's highest cell voltage by cell number (the earlier
-- service's shape); `positions` lists both extremes, the most frequent first.
WITH period AS (
    SELECT
        p.day,
        p.window_start,
        p.window_end,
        %(site)s::integer AS site_id,
        %(bank)s::integer AS bank_id,
        %(rack)s::integer AS rack_id,
        %(charge_status)s::text AS wanted_status
    FROM
        unnest(
            %(days)s::timestamptz[],
            %(window_starts)s::timestamptz[],
            %(window_ends)s::timestamptz[]
        ) AS p (day, window_start, window_end)
),

cell AS (
    SELECT
        p.day,
        p.window_start,
        p.window_end,
        c.bank_id,
        c.rack_id,
        c.charge_status,
        c.soc_range,
        c.extreme,
        c.appearances,
        c.cell_position,
        c.samples,
        c.mean_voltage,
        c.mean_temperature,
        c.mean_current,
        json_build_object(
            'cell_position', c.cell_position,
            'count', c.appearances,
            'share', c.share,
            'mean_voltage', c.mean_voltage,
            'mean_temperature', c.mean_temperature,
            'mean_current', c.mean_current
        ) AS counted
    FROM period AS p
    CROSS JOIN
        LATERAL ess.rack_socp(p.site_id, p.bank_id, p.rack_id, p.window_start, p.window_end) AS c
    WHERE p.wanted_status IS NULL OR c.charge_status = p.wanted_status
)

SELECT
    cell.day AS time,
    %(site)s::integer AS operating_site,
    cell.bank_id,
    cell.rack_id,
    %(period)s::integer AS period,
    cell.window_start AS start_time,
    cell.window_end AS end_time,
    cell.charge_status AS operating_state,
    cell.soc_range,
    array_position(ARRAY['charge', 'discharge', 'rest'], cell.charge_status) - 1
        AS charge_status,
    max(cell.samples) AS samples,
    coalesce(
        json_object_agg(
            cell.cell_position,
            json_build_object(
                'count', cell.appearances,
                'voltage', cell.mean_voltage,
                'temp', cell.mean_temperature,
                'current', cell.mean_current
            )
            ORDER BY cell.cell_position
        ) FILTER (WHERE cell.extreme = 'max'),
        '{}'
    ) AS value,
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
    ) AS positions
FROM cell
GROUP BY
    cell.day, cell.window_start, cell.window_end, cell.bank_id, cell.rack_id,
    cell.charge_status, cell.soc_range
ORDER BY cell.bank_id, cell.rack_id, cell.day, cell.charge_status, cell.soc_range
