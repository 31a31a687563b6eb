-- SoS, the State of Safety of a rack (Cabrera-Castillo et al., "Calculation of the state of
-- safety (SOS) for lithium ion batteries", J. Power Sources, 2016).
--
-- For each of seven hazards a factor f in (0, 1]: 1 on the safe side of the release value h_s,
-- else 1 / (1 + a (h - h_s)^2) with a = (1/zeta - 1) / (h_w - h_s)^2, so f(h_w) = zeta = 0.8.
-- SoS is the product of the seven factors: safe >= 0.8, warning >= 0.4096 (0.8^4), else unsafe.
-- Over a time bucket the worst case counts: the maximum of an increasing hazard (over-voltage,
-- imbalances, current magnitude, over-temperature), the minimum of a decreasing one.
--
--   SELECT * FROM ess.rack_sos(2, 1, NULL, '2022-05-10 00:00+09', '2022-05-11 00:00+09');

-- One hazard factor. increasing: the hazard grows with h (over-voltage); else it grows as h falls.
CREATE OR REPLACE FUNCTION ess.sos_factor(
    h double precision,
    h_s double precision,
    h_w double precision,
    zeta double precision DEFAULT 0.8,
    increasing boolean DEFAULT TRUE
) RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN h IS NULL THEN NULL
        WHEN (increasing AND h <= h_s) OR (NOT increasing AND h >= h_s) THEN 1.0
        ELSE 1.0 / (1.0 + (1.0 / zeta - 1.0) * ((h - h_s) / (h_w - h_s)) ^ 2)
    END
$$;

-- The lowest SoS of each class, the one definition: ess.sos_class() and the SoS forecasts'
-- classes (api/forecasting, which reads them) use these.
CREATE OR REPLACE FUNCTION ess.sos_safe_from()
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 0.8::double precision
$$;

CREATE OR REPLACE FUNCTION ess.sos_warning_from()
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 0.4096::double precision
$$;

CREATE OR REPLACE FUNCTION ess.sos_class(sos_score double precision)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN sos_score IS NULL THEN NULL
        WHEN sos_score >= ess.sos_safe_from() THEN 'safe'
        WHEN sos_score >= ess.sos_warning_from() THEN 'warning'
        ELSE 'unsafe'
    END
$$;

-- The SoS parameters in force at a site: its own rows, else the defaults (site_id NULL).
CREATE OR REPLACE FUNCTION ess.site_sos_parameters(p_site integer)
RETURNS TABLE (
    hazard text,
    ordinal smallint,
    quantity text,
    increasing boolean,
    h_s double precision,
    h_w double precision,
    zeta double precision,
    unit text
)
LANGUAGE sql
STABLE
AS $$
    SELECT DISTINCT ON (h.ordinal)
        h.hazard, h.ordinal, h.quantity, h.increasing, p.h_s, p.h_w, p.zeta, h.unit
    FROM ess.sos_hazard AS h
    INNER JOIN ess.sos_parameter AS p ON p.hazard = h.hazard
    WHERE p.site_id = p_site OR p.site_id IS NULL
    ORDER BY h.ordinal, p.site_id NULLS LAST
$$;

-- Set the SoS parameters of one hazard at a site (p_site NULL: the defaults), replacing its
-- row or adding one. Each refusal names what is wrong; a release value that is not strictly on
-- the safe side of the warning value or of the protection levels in force is refused by the
-- table's trigger (migration 0011), naming the level it crosses.
--
--   SELECT ess.set_sos_parameter(2, 'over_temperature', 45, 50);
CREATE OR REPLACE FUNCTION ess.set_sos_parameter(
    p_site integer,
    p_hazard text,
    p_h_s double precision,
    p_h_w double precision,
    p_zeta double precision DEFAULT 0.8
)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM ess.sos_hazard AS h WHERE h.hazard = p_hazard) THEN
        RAISE EXCEPTION 'unknown SoS hazard %', quote_literal(p_hazard)
            USING
                ERRCODE = 'invalid_parameter_value',
                HINT = 'one of: ' || (
                    SELECT string_agg(h.hazard, ', ' ORDER BY h.ordinal) FROM ess.sos_hazard AS h
                );
    END IF;
    IF p_site IS NOT NULL AND NOT EXISTS (SELECT FROM ess.site AS s WHERE s.site_id = p_site) THEN
        RAISE EXCEPTION 'no operating site %', p_site USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_h_s IS NULL OR p_h_w IS NULL OR p_h_s = p_h_w THEN
        RAISE EXCEPTION
            'the % release value h_s (%) and warning value h_w (%) must be two different numbers',
            p_hazard, coalesce(p_h_s::text, 'none'), coalesce(p_h_w::text, 'none')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_zeta IS NULL OR p_zeta <= 0 OR p_zeta >= 1 THEN
        RAISE EXCEPTION 'zeta (the factor at the warning value) must lie between 0 and 1, not %',
            coalesce(p_zeta::text, 'none')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE ess.sos_parameter AS p
    SET h_s = p_h_s, h_w = p_h_w, zeta = p_zeta
    WHERE p.site_id IS NOT DISTINCT FROM p_site AND p.hazard = p_hazard;
    IF NOT FOUND THEN
        INSERT INTO ess.sos_parameter (site_id, hazard, h_s, h_w, zeta)
        VALUES (p_site, p_hazard, p_h_s, p_h_w, p_zeta);
    END IF;
END;
$$;

-- Worst case of every hazard input per time bucket (in the site's local time), per rack, or per
-- bank (p_per_rack false: the worst rack, rack_id NULL). avg_current gives the operating state.
-- Reads the coarsest continuous aggregate that answers exactly (1 hour, 1 minute: 60x or 3600x
-- fewer rows; see aggregate_source.sql), the raw rows otherwise. Raw rows enter the same
-- aggregation as one-row buckets, so every source gives the same answer. Local buckets come
-- from a fixed-origin time_bucket where the zone keeps one UTC offset (ess.fixed_bucket_origin).
CREATE OR REPLACE FUNCTION ess.rack_hazard_inputs(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start timestamptz,
    p_end timestamptz,
    p_bucket interval DEFAULT '1 minute',
    p_per_rack boolean DEFAULT TRUE
)
RETURNS TABLE (
    bucket timestamptz,
    bank_id smallint,
    rack_id smallint,
    n_rows bigint,
    max_cell_voltage double precision,
    min_cell_voltage double precision,
    max_cell_voltage_gap double precision,
    max_abs_current double precision,
    avg_current double precision,
    max_cell_temperature double precision,
    min_cell_temperature double precision,
    max_cell_temperature_gap double precision
)
LANGUAGE sql
STABLE
AS $$
    WITH site AS (
        SELECT
            s.timezone,
            ess.fixed_bucket_origin(s.timezone, p_bucket, p_start, p_end) AS fixed_origin
        FROM ess.site AS s
        WHERE s.site_id = p_site
    ),

    source AS (
        SELECT
            CASE
                WHEN ess.aggregate_serves('rack_1h', p_bucket, p_start, p_end, site.timezone)
                    THEN 'rack_1h'
                WHEN ess.aggregate_serves('rack_1m', p_bucket, p_start, p_end, site.timezone)
                    THEN 'rack_1m'
                ELSE 'rack'
            END AS relation
        FROM site
    ),

    summary AS (
        SELECT
            r.ts AS bucket,
            r.site_id,
            r.bank_id,
            r.rack_id,
            1 AS n_rows,
            r.rack_max_cell_voltage AS max_rack_max_cell_voltage,
            r.rack_min_cell_voltage AS min_rack_min_cell_voltage,
            r.rack_cell_voltage_gap AS max_rack_cell_voltage_gap,
            abs(r.rack_current) AS max_abs_rack_current,
            r.rack_current AS sum_rack_current,
            (r.rack_current IS NOT NULL)::integer AS n_rack_current,
            r.rack_max_cell_temperature AS max_rack_max_cell_temperature,
            r.rack_min_cell_temperature AS min_rack_min_cell_temperature,
            r.rack_cell_temperature_gap AS max_rack_cell_temperature_gap
        FROM ess.rack AS r
        WHERE (SELECT relation FROM source) = 'rack'
        UNION ALL
        SELECT
            a.bucket, a.site_id, a.bank_id, a.rack_id, a.n_rows,
            a.max_rack_max_cell_voltage, a.min_rack_min_cell_voltage,
            a.max_rack_cell_voltage_gap, a.max_abs_rack_current, a.sum_rack_current,
            a.n_rack_current, a.max_rack_max_cell_temperature,
            a.min_rack_min_cell_temperature, a.max_rack_cell_temperature_gap
        FROM ess.rack_1m AS a
        WHERE (SELECT relation FROM source) = 'rack_1m'
        UNION ALL
        SELECT
            a.bucket, a.site_id, a.bank_id, a.rack_id, a.n_rows,
            a.max_rack_max_cell_voltage, a.min_rack_min_cell_voltage,
            a.max_rack_cell_voltage_gap, a.max_abs_rack_current, a.sum_rack_current,
            a.n_rack_current, a.max_rack_max_cell_temperature,
            a.min_rack_min_cell_temperature, a.max_rack_cell_temperature_gap
        FROM ess.rack_1h AS a
        WHERE (SELECT relation FROM source) = 'rack_1h'
    )

    SELECT
        CASE
            WHEN site.fixed_origin IS NULL THEN time_bucket(p_bucket, m.bucket, site.timezone)
            ELSE time_bucket(p_bucket, m.bucket, site.fixed_origin)
        END AS bucket,
        m.bank_id,
        CASE WHEN p_per_rack THEN m.rack_id END AS rack_id,
        sum(m.n_rows)::bigint AS n_rows,
        max(m.max_rack_max_cell_voltage),
        min(m.min_rack_min_cell_voltage),
        max(m.max_rack_cell_voltage_gap),
        max(m.max_abs_rack_current),
        sum(m.sum_rack_current) / nullif(sum(m.n_rack_current), 0),
        max(m.max_rack_max_cell_temperature),
        min(m.min_rack_min_cell_temperature),
        max(m.max_rack_cell_temperature_gap)
    FROM summary AS m
    CROSS JOIN site
    WHERE
        m.site_id = p_site
        AND (p_bank IS NULL OR m.bank_id = p_bank)
        AND (p_rack IS NULL OR m.rack_id = p_rack)
        AND m.bucket >= p_start
        AND m.bucket < p_end
    GROUP BY 1, 2, 3
    ORDER BY 2, 3, 1
$$;

-- SoS per rack and time bucket: the seven factors, their product and the class.
CREATE OR REPLACE FUNCTION ess.rack_sos(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start timestamptz,
    p_end timestamptz,
    p_bucket interval DEFAULT '1 minute'
)
RETURNS TABLE (
    bucket timestamptz,
    bank_id smallint,
    rack_id smallint,
    over_voltage double precision,
    under_voltage double precision,
    voltage_unbalance double precision,
    over_current double precision,
    over_temperature double precision,
    under_temperature double precision,
    temperature_unbalance double precision,
    sos_score double precision,
    sos_class text
)
LANGUAGE sql
STABLE
AS $$
    WITH parameter AS (
        -- one row, arrays indexed by the hazard's ordinal (1 over_voltage ... 7)
        SELECT
            array_agg(h_s ORDER BY ordinal) AS h_s,
            array_agg(h_w ORDER BY ordinal) AS h_w,
            array_agg(zeta ORDER BY ordinal) AS zeta,
            array_agg(increasing ORDER BY ordinal) AS increasing
        FROM ess.site_sos_parameters(p_site)
    ),

    factor AS (
        SELECT
            w.bucket,
            w.bank_id,
            w.rack_id,
            ess.sos_factor(w.max_cell_voltage, p.h_s[1], p.h_w[1], p.zeta[1], p.increasing[1])
                AS over_voltage,
            ess.sos_factor(w.min_cell_voltage, p.h_s[2], p.h_w[2], p.zeta[2], p.increasing[2])
                AS under_voltage,
            ess.sos_factor(
                w.max_cell_voltage_gap, p.h_s[3], p.h_w[3], p.zeta[3], p.increasing[3]
            ) AS voltage_unbalance,
            ess.sos_factor(w.max_abs_current, p.h_s[4], p.h_w[4], p.zeta[4], p.increasing[4])
                AS over_current,
            ess.sos_factor(
                w.max_cell_temperature, p.h_s[5], p.h_w[5], p.zeta[5], p.increasing[5]
            ) AS over_temperature,
            ess.sos_factor(
                w.min_cell_temperature, p.h_s[6], p.h_w[6], p.zeta[6], p.increasing[6]
            ) AS under_temperature,
            ess.sos_factor(
                w.max_cell_temperature_gap, p.h_s[7], p.h_w[7], p.zeta[7], p.increasing[7]
            ) AS temperature_unbalance
        FROM ess.rack_hazard_inputs(p_site, p_bank, p_rack, p_start, p_end, p_bucket) AS w
        CROSS JOIN parameter AS p
    )

    SELECT
        f.bucket,
        f.bank_id,
        f.rack_id,
        f.over_voltage,
        f.under_voltage,
        f.voltage_unbalance,
        f.over_current,
        f.over_temperature,
        f.under_temperature,
        f.temperature_unbalance,
        score.sos_score,
        ess.sos_class(score.sos_score)
    FROM factor AS f
    CROSS JOIN LATERAL (
        SELECT
            f.over_voltage * f.under_voltage * f.voltage_unbalance * f.over_current
            * f.over_temperature * f.under_temperature * f.temperature_unbalance AS sos_score
    ) AS score
    ORDER BY f.bank_id, f.rack_id, f.bucket
$$;

COMMENT ON FUNCTION ess.sos_factor(
    double precision, double precision, double precision, double precision, boolean
) IS 'SoS factor of one hazard: 1 on the safe side of h_s, 1/(1 + a (h - h_s)^2) beyond, '
'with f(h_w) = zeta. docs/analytics-safety.md';
COMMENT ON FUNCTION ess.rack_sos(
    integer, integer, integer, timestamptz, timestamptz, interval
) IS 'SoS per rack and local time bucket (site, bank, rack or NULL, start, end, width): the '
'seven factors of the worst case, their product and the class. docs/analytics-safety.md';
COMMENT ON FUNCTION ess.rack_hazard_inputs(
    integer, integer, integer, timestamptz, timestamptz, interval, boolean
) IS 'Worst case of the SoS/ExSoS hazard inputs per local time bucket, per rack or per bank, '
'from the coarsest exact continuous aggregate or the raw rows';
COMMENT ON FUNCTION ess.set_sos_parameter(
    integer, text, double precision, double precision, double precision
) IS 'Set the SoS release value, warning value and zeta of one hazard at a site (NULL: the '
'defaults), with an error naming what is wrong. docs/analytics-safety.md';
