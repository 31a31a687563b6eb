-- SoCP, the State of Cell Position: how often each cell position is reported as the rack's
-- highest (extreme 'max') or lowest ('min') cell voltage, per operating state and SoC decile.
-- A cell that keeps showing up as the maximum while charging or as the minimum while
-- discharging is a weak cell (lower capacity or higher resistance than its neighbours).
--
-- Operating state per row from the rack current: charge at or above +dead band, discharge at or
-- below -dead band, rest in between (default 2 A). SoC decile: 0 for [0, 10), ..., 90 for
-- [90, 100] (values outside 0-100 are clamped). The means are over the rows counted: the
-- extreme cell voltage itself, the rack's highest cell temperature and the rack current.
--
--   SELECT * FROM ess.rack_socp(2, 1, 3, '2022-05-03 00:00+09', '2022-05-10 00:00+09')
--   WHERE charge_status = 'charge' AND extreme = 'max' ORDER BY appearances DESC;

CREATE OR REPLACE FUNCTION ess.rack_socp(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start timestamptz,
    p_end timestamptz,
    p_dead_band double precision DEFAULT 2.0
)
RETURNS TABLE (
    bank_id smallint,
    rack_id smallint,
    charge_status text,
    soc_range integer,
    extreme text,
    cell_position integer,
    appearances bigint,
    samples bigint,
    share double precision,
    mean_voltage double precision,
    mean_temperature double precision,
    mean_current double precision
)
LANGUAGE sql
STABLE
-- the two hashed grouping sets need about 20 MB for a bank-day (36,000 groups); with the
-- default 4 MB the planner sorts all rows instead, 2-3x slower
SET work_mem = '64MB'
AS $$
    WITH sample AS (
        SELECT
            r.bank_id,
            r.rack_id,
            CASE
                WHEN r.rack_current >= p_dead_band THEN 'charge'
                WHEN r.rack_current <= -p_dead_band THEN 'discharge'
                ELSE 'rest'
            END AS charge_status,
            (least(greatest(floor(r.rack_soc / 10), 0), 9) * 10)::integer AS soc_range,
            round(r.rack_max_cell_voltage_position)::integer AS max_position,
            round(r.rack_min_cell_voltage_position)::integer AS min_position,
            r.rack_max_cell_voltage,
            r.rack_min_cell_voltage,
            r.rack_max_cell_temperature,
            r.rack_current
        FROM ess.rack AS r
        WHERE
            r.site_id = p_site
            AND (p_bank IS NULL OR r.bank_id = p_bank)
            AND (p_rack IS NULL OR r.rack_id = p_rack)
            AND r.ts >= p_start
            AND r.ts < p_end
            AND r.rack_current IS NOT NULL
            AND r.rack_soc IS NOT NULL
    ),

    -- one pass, two hashed grouping sets: per max position and per min position
    counted AS (
        SELECT
            bank_id,
            rack_id,
            charge_status,
            soc_range,
            CASE WHEN grouping(max_position) = 0 THEN 'max' ELSE 'min' END AS extreme,
            coalesce(max_position, min_position) AS cell_position,
            count(*) AS appearances,
            CASE
                WHEN grouping(max_position) = 0 THEN avg(rack_max_cell_voltage)
                ELSE avg(rack_min_cell_voltage)
            END AS mean_voltage,
            avg(rack_max_cell_temperature) AS mean_temperature,
            avg(rack_current) AS mean_current
        FROM sample
        GROUP BY GROUPING SETS (
            (bank_id, rack_id, charge_status, soc_range, max_position),
            (bank_id, rack_id, charge_status, soc_range, min_position)
        )
    ),

    totalled AS (
        -- every row of a rack, state and decile counts once per extreme, NULL positions too
        SELECT
            c.*,
            sum(c.appearances) OVER (
                PARTITION BY c.bank_id, c.rack_id, c.charge_status, c.soc_range, c.extreme
            )::bigint AS samples
        FROM counted AS c
    )

    SELECT
        t.bank_id,
        t.rack_id,
        t.charge_status,
        t.soc_range,
        t.extreme,
        t.cell_position,
        t.appearances,
        t.samples,
        t.appearances::double precision / t.samples AS share,
        t.mean_voltage,
        t.mean_temperature,
        t.mean_current
    FROM totalled AS t
    WHERE t.cell_position IS NOT NULL
    ORDER BY
        t.bank_id, t.rack_id, t.charge_status, t.soc_range, t.extreme,
        t.appearances DESC, t.cell_position
$$;

COMMENT ON FUNCTION ess.rack_socp(
    integer, integer, integer, timestamptz, timestamptz, double precision
) IS 'SoCP: per rack, operating state and SoC decile, how often each cell position is the '
'max/min cell voltage, with means. docs/analytics-safety.md';
