-- Protection map: threshold rules (ess.protection_threshold, per site with defaults) evaluated
-- on every rack row, together with the BMS's own warning and fault flags (ess.bms_flag).
-- Reported as episodes, not as one row per second: consecutive readings of a rack in which the
-- same rule holds, where readings at most p_max_gap apart belong to the same episode (missing
-- seconds and one-off dips do not split an alarm). p_max_gap defaults to 10 s, or to three times
-- the data's typical interval where the data is coarser (ess.protection_max_gap).
--
--   SELECT * FROM ess.protection_episodes(2, '2022-05-01 00:00+09', '2022-05-31 00:00+09');
--   SELECT * FROM ess.protection_level_counts(2, '2022-05-01+09', '2022-05-31+09', '1 day');

-- The thresholds in force at a site: its own rows, else the defaults (site_id NULL).
CREATE OR REPLACE FUNCTION ess.site_protection_thresholds(p_site integer)
RETURNS TABLE (
    code smallint,
    hazard text,
    sos_hazard text,
    quantity text,
    direction text,
    warning_level double precision,
    fault_level double precision,
    unit text
)
LANGUAGE sql
STABLE
AS $$
    SELECT DISTINCT ON (t.code)
        t.code, c.hazard, c.sos_hazard, t.quantity, t.direction, t.warning_level,
        t.fault_level, t.unit
    FROM ess.protection_threshold AS t
    INNER JOIN ess.protection_code AS c ON c.code = t.code
    WHERE t.site_id = p_site OR t.site_id IS NULL
    ORDER BY t.code, t.site_id NULLS LAST
$$;

-- The default gap within which readings of a rule form one episode: 10 s, or three times the
-- typical interval between a rack's rows where that is longer (10-second demo data: 30 s). The
-- interval is 60 s over the median row count of up to 5,000 rack-minutes of the 1-minute
-- aggregate in the window (a median: minutes at the edges of the data are partial).
CREATE OR REPLACE FUNCTION ess.protection_max_gap(
    p_site integer, p_start timestamptz, p_end timestamptz
) RETURNS interval
LANGUAGE sql
STABLE
AS $$
    SELECT
        greatest(
            interval '10 seconds',
            3 * interval '1 minute' / percentile_cont(0.5) WITHIN GROUP (ORDER BY sample.n_rows)
        )
    FROM (
        SELECT a.n_rows
        FROM ess.rack_1m AS a
        WHERE a.site_id = p_site AND a.bucket >= p_start AND a.bucket < p_end
        LIMIT 5000
    ) AS sample
$$;

-- Every reading in which a rule holds: one row per rack row, rule and level. A threshold rule
-- of level 1 holds beyond the warning level (also while beyond the fault level), level 2 beyond
-- the fault level. value is the rule's quantity (for a BMS flag: the quantity of its hazard,
-- NULL for relay, fuse and communication faults). starts_episode / episode number the episodes
-- of each series (rack, code, level, source, source_column). Optional filters: bank, rack, level
-- (1 warning, 2 fault) and code.
CREATE OR REPLACE FUNCTION ess.protection_events(
    p_site integer,
    p_start timestamptz,
    p_end timestamptz,
    p_max_gap interval DEFAULT NULL,
    p_bank integer DEFAULT NULL,
    p_rack integer DEFAULT NULL,
    p_level integer DEFAULT NULL,
    p_code integer DEFAULT NULL
)
RETURNS TABLE (
    ts timestamptz,
    bank_id smallint,
    rack_id smallint,
    code smallint,
    level smallint,
    source text,
    source_column text,
    direction text,
    value double precision,
    starts_episode boolean,
    episode bigint
)
LANGUAGE sql
STABLE
AS $$
    WITH threshold AS (
        SELECT * FROM ess.site_protection_thresholds(p_site)
    ),

    gap AS (
        SELECT coalesce(p_max_gap, ess.protection_max_gap(p_site, p_start, p_end)) AS max_gap
    ),

    -- The loosest level of each quantity, signed so that "beyond" is always "greater than":
    -- a cheap first filter that keeps only the rows where some rule or flag may hold.
    loosest AS (
        SELECT
            max(sign) FILTER (WHERE quantity = 'rack_max_cell_voltage') AS sign_max_v,
            max(sign) FILTER (WHERE quantity = 'rack_min_cell_voltage') AS sign_min_v,
            max(sign) FILTER (WHERE quantity = 'rack_cell_voltage_gap') AS sign_gap_v,
            max(sign) FILTER (WHERE quantity = 'charge_current') AS sign_charge,
            max(sign) FILTER (WHERE quantity = 'discharge_current') AS sign_discharge,
            max(sign) FILTER (WHERE quantity = 'rack_max_cell_temperature') AS sign_max_t,
            max(sign) FILTER (WHERE quantity = 'rack_min_cell_temperature') AS sign_min_t,
            max(sign) FILTER (WHERE quantity = 'rack_cell_temperature_gap') AS sign_gap_t,
            min(signed_level) FILTER (WHERE quantity = 'rack_max_cell_voltage') AS max_v,
            min(signed_level) FILTER (WHERE quantity = 'rack_min_cell_voltage') AS min_v,
            min(signed_level) FILTER (WHERE quantity = 'rack_cell_voltage_gap') AS gap_v,
            min(signed_level) FILTER (WHERE quantity = 'charge_current') AS charge,
            min(signed_level) FILTER (WHERE quantity = 'discharge_current') AS discharge,
            min(signed_level) FILTER (WHERE quantity = 'rack_max_cell_temperature') AS max_t,
            min(signed_level) FILTER (WHERE quantity = 'rack_min_cell_temperature') AS min_t,
            min(signed_level) FILTER (WHERE quantity = 'rack_cell_temperature_gap') AS gap_t
        FROM threshold
        CROSS JOIN LATERAL (
            SELECT CASE direction WHEN 'above' THEN 1 ELSE -1 END AS sign
        ) AS direction_sign
        CROSS JOIN LATERAL (
            SELECT
                sign * CASE direction
                    WHEN 'above' THEN least(warning_level, fault_level)
                    ELSE greatest(warning_level, fault_level)
                END AS signed_level
        ) AS signed
    ),

    candidate AS (
        SELECT r.*
        FROM ess.rack AS r
        CROSS JOIN loosest AS l
        WHERE
            r.site_id = p_site
            AND (p_bank IS NULL OR r.bank_id = p_bank)
            AND (p_rack IS NULL OR r.rack_id = p_rack)
            AND r.ts >= p_start
            AND r.ts < p_end
            AND (
                l.sign_max_v * r.rack_max_cell_voltage > l.max_v
                OR l.sign_min_v * r.rack_min_cell_voltage > l.min_v
                OR l.sign_gap_v * r.rack_cell_voltage_gap > l.gap_v
                OR l.sign_charge * r.rack_current > l.charge
                OR l.sign_discharge * -r.rack_current > l.discharge
                OR l.sign_max_t * r.rack_max_cell_temperature > l.max_t
                OR l.sign_min_t * r.rack_min_cell_temperature > l.min_t
                OR l.sign_gap_t * r.rack_cell_temperature_gap > l.gap_t
                OR greatest(
                    r.rack_over_voltage_protection_warning,
                    r.rack_over_voltage_protection_fault,
                    r.rack_under_voltage_protection_warning,
                    r.rack_under_voltage_protection_fault,
                    r.rack_voltage_imbalance_warning,
                    r.rack_voltage_imbalance_fault,
                    r.rack_tray_volatge_imbalance_warning,
                    r.rack_over_current_charge_warning,
                    r.rack_over_current_charge_fault,
                    r.rack_over_current_discharge_warning,
                    r.rack_over_current_discharge_fault,
                    r.rack_over_temperature_warning,
                    r.rack_over_temperature_fault,
                    r.rack_under_temperature_warning,
                    r.rack_under_temperature_fault,
                    r.rack_temperature_imbalance_warning,
                    r.rack_temperature_imbalance_fault,
                    r.rack_charge_relay_plus_fault_status,
                    r.rack_discharge_relay_minus_fault_status,
                    r.rack_fuse_minus_fault_status,
                    r.rack_fuse_plus_fault_status,
                    r.rack_tray_rack_communication_fault
                ) <> 0
            )
    ),

    -- the quantities a threshold can name; discharge_current is positive while discharging
    reading AS (
        SELECT
            c.ts,
            c.bank_id,
            c.rack_id,
            q.quantity,
            q.value
        FROM candidate AS c
        CROSS JOIN LATERAL (
            VALUES
            ('rack_max_cell_voltage', c.rack_max_cell_voltage),
            ('rack_min_cell_voltage', c.rack_min_cell_voltage),
            ('rack_cell_voltage_gap', c.rack_cell_voltage_gap),
            ('charge_current', c.rack_current),
            ('discharge_current', -c.rack_current),
            ('rack_max_cell_temperature', c.rack_max_cell_temperature),
            ('rack_min_cell_temperature', c.rack_min_cell_temperature),
            ('rack_cell_temperature_gap', c.rack_cell_temperature_gap)
        ) AS q (quantity, value)
    ),

    -- the flag columns a row carries; ess.bms_flag says which of them mean what
    raised_flag AS (
        SELECT
            c.ts,
            c.bank_id,
            c.rack_id,
            f.flag_column
        FROM candidate AS c
        CROSS JOIN LATERAL (
            VALUES
            ('rack_over_voltage_protection_warning', c.rack_over_voltage_protection_warning),
            ('rack_over_voltage_protection_fault', c.rack_over_voltage_protection_fault),
            ('rack_under_voltage_protection_warning', c.rack_under_voltage_protection_warning),
            ('rack_under_voltage_protection_fault', c.rack_under_voltage_protection_fault),
            ('rack_voltage_imbalance_warning', c.rack_voltage_imbalance_warning),
            ('rack_voltage_imbalance_fault', c.rack_voltage_imbalance_fault),
            ('rack_tray_volatge_imbalance_warning', c.rack_tray_volatge_imbalance_warning),
            ('rack_over_current_charge_warning', c.rack_over_current_charge_warning),
            ('rack_over_current_charge_fault', c.rack_over_current_charge_fault),
            ('rack_over_current_discharge_warning', c.rack_over_current_discharge_warning),
            ('rack_over_current_discharge_fault', c.rack_over_current_discharge_fault),
            ('rack_over_temperature_warning', c.rack_over_temperature_warning),
            ('rack_over_temperature_fault', c.rack_over_temperature_fault),
            ('rack_under_temperature_warning', c.rack_under_temperature_warning),
            ('rack_under_temperature_fault', c.rack_under_temperature_fault),
            ('rack_temperature_imbalance_warning', c.rack_temperature_imbalance_warning),
            ('rack_temperature_imbalance_fault', c.rack_temperature_imbalance_fault),
            ('rack_charge_relay_plus_fault_status', c.rack_charge_relay_plus_fault_status),
            (
                'rack_discharge_relay_minus_fault_status',
                c.rack_discharge_relay_minus_fault_status
            ),
            ('rack_fuse_minus_fault_status', c.rack_fuse_minus_fault_status),
            ('rack_fuse_plus_fault_status', c.rack_fuse_plus_fault_status),
            ('rack_tray_rack_communication_fault', c.rack_tray_rack_communication_fault)
        ) AS f (flag_column, flag_value)
        WHERE f.flag_value <> 0
    ),

    event AS (
        SELECT
            r.ts,
            r.bank_id,
            r.rack_id,
            t.code,
            lv.level,
            'threshold' AS source,
            r.quantity AS source_column,
            t.direction,
            r.value
        FROM reading AS r
        INNER JOIN threshold AS t ON t.quantity = r.quantity
        CROSS JOIN LATERAL (
            VALUES (1::smallint, t.warning_level), (2::smallint, t.fault_level)
        ) AS lv (level, limit_value)
        WHERE
            CASE t.direction
                WHEN 'above' THEN r.value > lv.limit_value
                ELSE r.value < lv.limit_value
            END
        UNION ALL
        SELECT
            f.ts,
            f.bank_id,
            f.rack_id,
            m.code,
            m.level,
            'bms_flag' AS source,
            f.flag_column AS source_column,
            t.direction,
            r.value
        FROM raised_flag AS f
        INNER JOIN ess.bms_flag AS m ON m.flag_column = f.flag_column
        LEFT JOIN threshold AS t ON t.code = m.code
        LEFT JOIN reading AS r
            ON
                r.ts = f.ts
                AND r.bank_id = f.bank_id
                AND r.rack_id = f.rack_id
                AND r.quantity = t.quantity
    ),

    marked AS (
        SELECT
            e.*,
            coalesce(e.ts - lag(e.ts) OVER series > (SELECT max_gap FROM gap), TRUE)
                AS starts_episode
        FROM event AS e
        WHERE
            (p_level IS NULL OR e.level = p_level)
            AND (p_code IS NULL OR e.code = p_code)
        WINDOW series AS (
            PARTITION BY e.bank_id, e.rack_id, e.code, e.level, e.source, e.source_column
            ORDER BY e.ts
        )
    )

    SELECT
        m.ts,
        m.bank_id,
        m.rack_id,
        m.code,
        m.level,
        m.source,
        m.source_column,
        m.direction,
        m.value,
        m.starts_episode,
        count(*) FILTER (WHERE m.starts_episode) OVER (
            PARTITION BY m.bank_id, m.rack_id, m.code, m.level, m.source, m.source_column
            ORDER BY m.ts
        ) AS episode
    FROM marked AS m
$$;

-- Episodes: start and end (the last reading in which the rule held; NULL while ongoing, i.e.
-- when it still held within the gap of the window's end), the peak value and descriptions.
-- An episode that began before p_start starts at p_start's first reading.
CREATE OR REPLACE FUNCTION ess.protection_episodes(
    p_site integer,
    p_start timestamptz,
    p_end timestamptz,
    p_max_gap interval DEFAULT NULL,
    p_bank integer DEFAULT NULL,
    p_rack integer DEFAULT NULL,
    p_level integer DEFAULT NULL,
    p_code integer DEFAULT NULL
)
RETURNS TABLE (
    start_time timestamptz,
    end_time timestamptz,
    last_seen timestamptz,
    ongoing boolean,
    site_id smallint,
    bank_id smallint,
    rack_id smallint,
    code smallint,
    hazard text,
    level smallint,
    level_name text,
    peak_value double precision,
    unit text,
    readings bigint,
    source text,
    source_column text,
    description_en text,
    description_ko text
)
LANGUAGE sql
STABLE
AS $$
    WITH gap AS (
        SELECT coalesce(p_max_gap, ess.protection_max_gap(p_site, p_start, p_end)) AS max_gap
    ),

    episode AS (
        SELECT
            e.bank_id,
            e.rack_id,
            e.code,
            e.level,
            e.source,
            e.source_column,
            min(e.ts) AS start_time,
            max(e.ts) AS last_seen,
            count(*) AS readings,
            CASE
                WHEN min(e.direction) = 'below' THEN min(e.value) ELSE max(e.value)
            END AS peak_value
        FROM
            ess.protection_events(
                p_site, p_start, p_end, (SELECT max_gap FROM gap), p_bank, p_rack, p_level,
                p_code
            ) AS e
        GROUP BY e.bank_id, e.rack_id, e.code, e.level, e.source, e.source_column, e.episode
    )

    SELECT
        e.start_time,
        CASE WHEN NOT ongoing.flag THEN e.last_seen END AS end_time,
        e.last_seen,
        ongoing.flag AS ongoing,
        p_site::smallint AS site_id,
        e.bank_id,
        e.rack_id,
        e.code,
        c.hazard,
        e.level,
        lv.name_en AS level_name,
        e.peak_value,
        t.unit,
        e.readings,
        e.source,
        e.source_column,
        CASE e.source
            WHEN 'threshold' THEN format(
                '%s %s: %s %s %s %s (peak %s %s).',
                c.name_en, lv.name_en, e.source_column,
                CASE t.direction WHEN 'above' THEN 'above' ELSE 'below' END,
                CASE e.level WHEN 1 THEN t.warning_level ELSE t.fault_level END, t.unit,
                round(e.peak_value::numeric, 3)::double precision, t.unit
            )
            ELSE format(
                '%s %s reported by the BMS (%s). %s',
                c.name_en, lv.name_en, e.source_column, c.description_en
            )
        END AS description_en,
        CASE e.source
            WHEN 'threshold' THEN format(
                '%s %s: %s %s %s %s (최고 %s %s).',
                c.name_ko, lv.name_ko, e.source_column,
                CASE e.level WHEN 1 THEN t.warning_level ELSE t.fault_level END, t.unit,
                CASE t.direction WHEN 'above' THEN '초과' ELSE '미만' END,
                round(e.peak_value::numeric, 3)::double precision, t.unit
            )
            ELSE format(
                '%s %s: BMS 보고 (%s). %s',
                c.name_ko, lv.name_ko, e.source_column, c.description_ko
            )
        END AS description_ko
    FROM episode AS e
    INNER JOIN ess.protection_code AS c ON c.code = e.code
    INNER JOIN ess.protection_level AS lv ON lv.level = e.level
    LEFT JOIN ess.site_protection_thresholds(p_site) AS t ON t.code = e.code
    CROSS JOIN LATERAL (
        SELECT e.last_seen > p_end - (SELECT max_gap FROM gap) AS flag
    ) AS ongoing
    ORDER BY e.start_time, e.bank_id, e.rack_id, e.code, e.level, e.source
$$;

-- Per time bucket (site-local) and level: episodes that started in the bucket (level_count)
-- and readings in which a rule of that level held (row_count, the original logger's count).
CREATE OR REPLACE FUNCTION ess.protection_level_counts(
    p_site integer,
    p_start timestamptz,
    p_end timestamptz,
    p_bucket interval DEFAULT '1 hour',
    p_max_gap interval DEFAULT NULL
)
RETURNS TABLE (
    bucket timestamptz,
    level smallint,
    level_count bigint,
    row_count bigint
)
LANGUAGE sql
STABLE
AS $$
    SELECT
        time_bucket(p_bucket, e.ts, s.timezone) AS bucket,
        e.level,
        count(*) FILTER (WHERE e.starts_episode) AS level_count,
        count(*) AS row_count
    FROM ess.protection_events(p_site, p_start, p_end, p_max_gap) AS e
    INNER JOIN ess.site AS s ON s.site_id = p_site
    GROUP BY 1, 2
    ORDER BY 1, 2
$$;

COMMENT ON FUNCTION ess.protection_episodes(
    integer, timestamptz, timestamptz, interval, integer, integer, integer, integer
) IS 'Protection-map episodes of a site (thresholds and BMS flags): start, end or ongoing, '
'level, peak, source, descriptions EN/KO. docs/analytics-safety.md';
COMMENT ON FUNCTION ess.protection_level_counts(
    integer, timestamptz, timestamptz, interval, interval
) IS 'Protection-map episodes started and readings flagged per local time bucket and level';
