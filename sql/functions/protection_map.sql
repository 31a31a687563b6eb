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

-- Flags as JSON: a map ({"module1": 0, "module2": 1, ...}; sites 2 and 3) or a bare flag (site
-- 1). A flag is raised when it is a number above 0 or true. any_flag_raised is the cheap test
-- every row passes (a built-in path query, inlined); raised_flags counts a map's raised flags
-- and raised_flag_racks names the racks of a master-rack map, only for the rows that passed.
CREATE OR REPLACE FUNCTION ess.any_flag_raised(p_flags jsonb)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT
        jsonb_path_exists(p_flags, '$ ? (@ > 0 || @ == true)')
        OR jsonb_path_exists(p_flags, '$.* ? (@ > 0 || @ == true)')
$$;

CREATE OR REPLACE FUNCTION ess.raised_flags(p_flags jsonb)
RETURNS integer
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT count(*)::integer FROM jsonb_path_query(p_flags, '$.* ? (@ > 0 || @ == true)')
$$;

-- Each raised "rackN" of a map, or rack 0 (the whole bank) for a raised bare flag.
CREATE OR REPLACE FUNCTION ess.raised_flag_racks(p_flags jsonb)
RETURNS SETOF smallint
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT substring(f.key FROM '[0-9]+')::smallint
    FROM jsonb_each(CASE WHEN jsonb_typeof(p_flags) = 'object' THEN p_flags END) AS f
    WHERE ess.any_flag_raised(f.value)
    UNION ALL
    SELECT 0::smallint
    WHERE jsonb_typeof(p_flags) <> 'object' AND ess.any_flag_raised(p_flags)
$$;

-- Every reading in which a rule holds: one row per rack row, rule and level, read from the
-- operating data. A threshold rule of level 1 holds beyond the warning level (also while beyond
-- the fault level), level 2 beyond the fault level. value is the rule's quantity (for a BMS
-- flag: the quantity of its hazard, NULL for relay, fuse and communication faults; the number
-- of raised modules for a module fault). Depends only on the reading and the rules, so it can
-- be stored (ess.protection_event) and refreshed for any window.
CREATE OR REPLACE FUNCTION ess.protection_reading_events(
    p_site integer,
    p_start timestamptz,
    p_end timestamptz,
    p_bank integer DEFAULT NULL,
    p_rack integer DEFAULT NULL
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
    value double precision
)
LANGUAGE sql
STABLE
AS $$
    WITH threshold AS (
        SELECT * FROM ess.site_protection_thresholds(p_site)
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
                OR ess.any_flag_raised(r.rack_module_fault)
            )
    ),

    -- The master BMS's communication faults, on the bank rows: site 1 has a flag per rack
    -- (rack_n00N_...) and one for the bank (rack 0, as the original logger wrote it); sites 2
    -- and 3 have a map {"rack1": 0, ...}.
    master_rack_fault AS (
        SELECT
            b.ts,
            b.bank_id,
            f.rack_id,
            f.source_column
        FROM ess.bank AS b
        CROSS JOIN LATERAL (
            VALUES
            (
                1, 'rack_n001_master_rack_communication_fault',
                b.rack_n001_master_rack_communication_fault
            ),
            (
                2, 'rack_n002_master_rack_communication_fault',
                b.rack_n002_master_rack_communication_fault
            ),
            (
                3, 'rack_n003_master_rack_communication_fault',
                b.rack_n003_master_rack_communication_fault
            ),
            (
                4, 'rack_n004_master_rack_communication_fault',
                b.rack_n004_master_rack_communication_fault
            ),
            (
                5, 'rack_n005_master_rack_communication_fault',
                b.rack_n005_master_rack_communication_fault
            ),
            (
                6, 'rack_n006_master_rack_communication_fault',
                b.rack_n006_master_rack_communication_fault
            ),
            (
                7, 'rack_n007_master_rack_communication_fault',
                b.rack_n007_master_rack_communication_fault
            ),
            (
                8, 'rack_n008_master_rack_communication_fault',
                b.rack_n008_master_rack_communication_fault
            )
        ) AS f (rack_id, source_column, flag_value)
        WHERE
            b.site_id = p_site
            AND (p_bank IS NULL OR b.bank_id = p_bank)
            AND (p_rack IS NULL OR f.rack_id = p_rack)
            AND b.ts >= p_start
            AND b.ts < p_end
            AND greatest(
                b.rack_n001_master_rack_communication_fault,
                b.rack_n002_master_rack_communication_fault,
                b.rack_n003_master_rack_communication_fault,
                b.rack_n004_master_rack_communication_fault,
                b.rack_n005_master_rack_communication_fault,
                b.rack_n006_master_rack_communication_fault,
                b.rack_n007_master_rack_communication_fault,
                b.rack_n008_master_rack_communication_fault
            ) <> 0
            AND f.flag_value <> 0
        UNION ALL
        SELECT
            b.ts,
            b.bank_id,
            f.rack_id,
            'master_rack_communication_fault' AS source_column
        FROM ess.bank AS b
        CROSS JOIN LATERAL ess.raised_flag_racks(b.master_rack_communication_fault) AS f (rack_id)
        WHERE
            b.site_id = p_site
            AND (p_bank IS NULL OR b.bank_id = p_bank)
            AND (p_rack IS NULL OR f.rack_id = p_rack)
            AND b.ts >= p_start
            AND b.ts < p_end
            AND ess.any_flag_raised(b.master_rack_communication_fault)
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
        UNION ALL
        -- sites 2 and 3: a map of module flags per rack row; value: how many are raised
        SELECT
            c.ts,
            c.bank_id,
            c.rack_id,
            15::smallint AS code,
            2::smallint AS level,
            'bms_flag' AS source,
            'rack_module_fault' AS source_column,
            NULL AS direction,
            ess.raised_flags(c.rack_module_fault)::double precision AS value
        FROM candidate AS c
        WHERE ess.any_flag_raised(c.rack_module_fault)
        UNION ALL
        SELECT
            b.ts,
            b.bank_id,
            b.rack_id,
            14::smallint AS code,
            2::smallint AS level,
            'bms_flag' AS source,
            b.source_column,
            NULL AS direction,
            NULL AS value
        FROM master_rack_fault AS b
    )

    SELECT * FROM event
$$;

-- The same events, taken from the store (ess.protection_event) for the readings before the
-- site's watermark and read on the fly after it (p_use_store false: all on the fly; the two
-- always agree). starts_episode / episode number the episodes of each series (rack, code,
-- level, source, source_column). Optional filters: bank, rack, level (1 warning, 2 fault) and
-- code.
CREATE OR REPLACE FUNCTION ess.protection_events(
    p_site integer,
    p_start timestamptz,
    p_end timestamptz,
    p_max_gap interval DEFAULT NULL,
    p_bank integer DEFAULT NULL,
    p_rack integer DEFAULT NULL,
    p_level integer DEFAULT NULL,
    p_code integer DEFAULT NULL,
    p_use_store boolean DEFAULT TRUE
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
-- planned per call, not inlined: no JIT compilation of the whole reading query for
-- the few stored events (seconds on a server with JIT)
SET jit = off
AS $$
    WITH gap AS (
        SELECT coalesce(p_max_gap, ess.protection_max_gap(p_site, p_start, p_end)) AS max_gap
    ),

    stored AS (
        SELECT max(w.stored_until) FILTER (WHERE p_use_store) AS until
        FROM ess.protection_event_watermark AS w
        WHERE w.site_id = p_site
    ),

    event AS (
        SELECT
            e.ts,
            e.bank_id,
            e.rack_id,
            e.code,
            e.level,
            e.source_kind AS source,
            e.source_column,
            e.direction,
            e.value
        FROM ess.protection_event AS e
        CROSS JOIN stored AS s
        WHERE
            e.site_id = p_site
            AND (p_bank IS NULL OR e.bank_id = p_bank)
            AND (p_rack IS NULL OR e.rack_id = p_rack)
            AND e.ts >= p_start
            AND e.ts < p_end
            AND e.ts < s.until
        UNION ALL
        SELECT live.*
        FROM stored AS s
        CROSS JOIN LATERAL ess.protection_reading_events(
            p_site, greatest(p_start, s.until), p_end, p_bank, p_rack
        ) AS live
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
    p_code integer DEFAULT NULL,
    p_use_store boolean DEFAULT TRUE
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
    code_name_en text,
    code_name_ko text,
    level smallint,
    level_name text,
    level_name_ko text,
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
-- planned per call, not inlined: no JIT compilation of the whole reading query for
-- the few stored events (seconds on a server with JIT)
SET jit = off
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
                p_code, p_use_store
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
        c.name_en AS code_name_en,
        c.name_ko AS code_name_ko,
        e.level,
        lv.name_en AS level_name,
        lv.name_ko AS level_name_ko,
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

-- Per time bucket (site-local) and level, newest bucket first: level_count = readings (one per
-- second and rack) whose highest level is this one, counted once however many rules and flags
-- held (the original logger's rows: a fault reading is not also a warning); episode_count =
-- episodes of this level that started in the bucket. A bucket and level appear when either is
-- non-zero.
CREATE OR REPLACE FUNCTION ess.protection_level_counts(
    p_site integer,
    p_start timestamptz,
    p_end timestamptz,
    p_bucket interval DEFAULT '1 hour',
    p_max_gap interval DEFAULT NULL,
    p_use_store boolean DEFAULT TRUE
)
RETURNS TABLE (
    bucket timestamptz,
    level smallint,
    level_count bigint,
    episode_count bigint
)
LANGUAGE sql
STABLE
-- planned per call, not inlined: no JIT compilation of the whole reading query for
-- the few stored events (seconds on a server with JIT)
SET jit = off
AS $$
    WITH event AS (
        SELECT
            time_bucket(p_bucket, e.ts, s.timezone) AS bucket,
            e.ts,
            e.bank_id,
            e.rack_id,
            e.level,
            e.starts_episode
        FROM
            ess.protection_events(
                p_site, p_start, p_end, p_max_gap, p_use_store => p_use_store
            ) AS e
        INNER JOIN ess.site AS s ON s.site_id = p_site
    ),

    reading AS (
        SELECT
            e.bucket,
            max(e.level) AS level
        FROM event AS e
        GROUP BY e.bucket, e.ts, e.bank_id, e.rack_id
    ),

    readings AS (
        SELECT
            r.bucket,
            r.level,
            count(*) AS level_count
        FROM reading AS r
        GROUP BY r.bucket, r.level
    ),

    episodes AS (
        SELECT
            e.bucket,
            e.level,
            count(*) AS episode_count
        FROM event AS e
        WHERE e.starts_episode
        GROUP BY e.bucket, e.level
    )

    SELECT
        coalesce(r.bucket, e.bucket) AS bucket,
        coalesce(r.level, e.level) AS level,
        coalesce(r.level_count, 0) AS level_count,
        coalesce(e.episode_count, 0) AS episode_count
    FROM readings AS r
    FULL JOIN episodes AS e ON e.bucket = r.bucket AND e.level = r.level
    ORDER BY 1 DESC, 2
$$;

-- Brings the stored events of a site up to date: the readings of [p_start, p_end) are evaluated
-- again (a load or a backfill), and the store is extended from its watermark. The watermark
-- stays at the newest reading (exclusive): more racks may still report that second. Without
-- bounds: from the watermark to the newest reading. Returns the events written.
CREATE OR REPLACE FUNCTION ess.refresh_protection_events(
    p_site integer, p_start timestamptz DEFAULT NULL, p_end timestamptz DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_until timestamptz;
    v_newest timestamptz;
    v_from timestamptz;
    v_to timestamptz;
    v_written bigint;
BEGIN
    -- one refresh of a site at a time; readers are not blocked
    PERFORM pg_advisory_xact_lock(hashtext('ess.protection_event'), p_site);
    SELECT w.stored_until INTO v_until
    FROM ess.protection_event_watermark AS w WHERE w.site_id = p_site;
    v_newest := greatest(
        (SELECT max(r.ts) FROM ess.rack AS r WHERE r.site_id = p_site),
        (SELECT max(b.ts) FROM ess.bank AS b WHERE b.site_id = p_site)
    );
    v_to := least(coalesce(p_end, v_newest), v_newest);
    -- the store has no holes: a window reaching past the watermark starts at it at the latest
    v_from := CASE
        WHEN v_until IS NULL THEN '-infinity'
        WHEN v_to > v_until THEN least(coalesce(p_start, v_until), v_until)
        ELSE p_start
    END;
    IF v_to IS NULL OR v_from IS NULL OR v_from >= v_to THEN
        RETURN 0;
    END IF;
    DELETE FROM ess.protection_event AS e
    WHERE e.site_id = p_site AND e.ts >= v_from AND e.ts < v_to;
    INSERT INTO ess.protection_event (
        ts, site_id, bank_id, rack_id, code, level, source_kind, source_column, direction, value
    )
    SELECT
        e.ts, p_site, e.bank_id, e.rack_id, e.code, e.level, e.source, e.source_column,
        e.direction, e.value
    FROM ess.protection_reading_events(p_site, v_from, v_to) AS e;
    GET DIAGNOSTICS v_written = ROW_COUNT;
    INSERT INTO ess.protection_event_watermark AS w (site_id, stored_until)
    VALUES (p_site, v_to)
    ON CONFLICT (site_id) DO UPDATE
        SET stored_until = greatest(w.stored_until, excluded.stored_until);
    RETURN v_written;
END
$$;

-- The scheduled job (a TimescaleDB job on a real server, see below): every site up to date.
CREATE OR REPLACE PROCEDURE ess.refresh_protection_events_job(job_id integer, config jsonb)
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM ess.refresh_protection_events(s.site_id) FROM ess.site AS s;
END
$$;

-- Stored events follow the rules: a change of a threshold or of the flag mapping forgets every
-- watermark, so answers are computed on the fly until the next refresh rebuilds the store.
CREATE OR REPLACE FUNCTION ess.forget_protection_events()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM ess.protection_event_watermark;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER protection_threshold_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ess.protection_threshold
FOR EACH STATEMENT EXECUTE FUNCTION ess.forget_protection_events();

CREATE OR REPLACE TRIGGER bms_flag_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ess.bms_flag
FOR EACH STATEMENT EXECUTE FUNCTION ess.forget_protection_events();

-- Every 5 minutes on a server whose job scheduler runs (the embedded engine runs none: there
-- the loads and the demo refresh the store, and readings past the watermark are read live).
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM timescaledb_information.jobs
        WHERE proc_schema = 'ess' AND proc_name = 'refresh_protection_events_job'
    ) THEN
        PERFORM add_job('ess.refresh_protection_events_job', interval '5 minutes');
    END IF;
END
$$;

COMMENT ON FUNCTION ess.protection_episodes(
    integer, timestamptz, timestamptz, interval, integer, integer, integer, integer, boolean
) IS 'Protection-map episodes of a site (thresholds and BMS flags): start, end or ongoing, '
'level, peak, source, descriptions EN/KO. docs/analytics-safety.md';
COMMENT ON FUNCTION ess.protection_level_counts(
    integer, timestamptz, timestamptz, interval, interval, boolean
) IS 'Protection-map readings (one level each) and episodes started per local bucket and level';
