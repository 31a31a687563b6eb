-- ExSoS, the extended State of Safety: a Mamdani fuzzy system over two hazards chosen by the
-- operating state, built on the protection map. Score in [0, 1], 1 safest. (This file is named
-- so that it is applied after sos.sql and protection_map.sql, whose functions it calls.)
--
-- 1. Operating state of a time bucket from the mean current: charge at or above +dead band,
--    discharge at or below -dead band, rest in between (default dead band 2 A).
-- 2. Input pair by state: charge -> over-voltage (max cell voltage) and over-temperature (max
--    cell temperature); discharge -> under-voltage (min cell voltage) and under-temperature (min
--    cell temperature); rest -> voltage and temperature imbalance (cell voltage and temperature
--    gaps). Worst case per bucket, as for SoS.
-- 3. Severity of each input, piecewise linear through (release value h_s, 0), (warning level,
--    0.5), (fault level, 1), clamped to [0, 1]: h_s from the site's SoS parameters, the levels
--    from the site's protection map.
-- 4. Three input sets per severity s: low = max(0, 1 - 2s), medium = max(0, 1 - |2s - 1|),
--    high = max(0, 2s - 1) (a partition of unity).
-- 5. Rules (AND = min, rules with the same output OR-ed with max):
--      low & low -> Negligible; low & medium -> Marginal; medium & medium -> Neutral;
--      low & high, medium & high -> Critical; high & high -> Catastrophic (symmetric in a, b).
-- 6. Output sets: triangles peaking at 0 (Catastrophic), 0.25 (Critical), 0.5 (Neutral),
--    0.75 (Marginal), 1 (Negligible), half-width 0.25, each clipped at its rule strength and
--    combined with max; the score is the centroid of that shape over [0, 1], computed exactly.
--    On [0, 1] the centroid ranges from 1/12 (all Catastrophic) to 11/12 (all Negligible).
--
--   SELECT * FROM ess.exsos(2, 1, NULL, '2022-05-10 00:00+09', '2022-05-11 00:00+09');
--   SELECT * FROM ess.exsos(2, 1, NULL, '2022-05-10+09', '2022-05-11+09', p_mode => 1);

CREATE OR REPLACE FUNCTION ess.hazard_severity(
    h double precision,
    h_s double precision,
    h_warning double precision,
    h_fault double precision
) RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN h IS NULL THEN NULL
        WHEN h_warning IS NULL THEN greatest(0.0, least(1.0, (h - h_s) / (h_fault - h_s)))
        -- the ratio is direction-free: it grows as h moves from h_s towards the warning level
        WHEN (h - h_s) / (h_warning - h_s) <= 1.0
            THEN greatest(0.0, 0.5 * (h - h_s) / (h_warning - h_s))
        ELSE least(1.0, 0.5 + 0.5 * (h - h_warning) / (h_fault - h_warning))
    END
$$;

-- Centroid of the max-combination of evenly spaced triangular output sets (peaks at
-- c_k = (k - 1) h with h = 1 / (n - 1), half-width h) clipped at weights[k], in closed form.
-- Between two neighbouring peaks, with t = (y - c_k) / h in [0, 1], a = weights[k] and
-- b = weights[k + 1], the membership is max(min(a, 1 - t), min(b, t)): the falling side of set k
-- up to the crossing t*, the rising side of set k + 1 after it, where v = min(a, b, 1/2) and
-- t* = v if a <= b, else 1 - v. Each side is a plateau and a linear part, integrated exactly.
CREATE OR REPLACE FUNCTION ess.fuzzy_centroid(weights double precision[])
RETURNS double precision
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    n integer := array_length(weights, 1);
    h double precision := 1.0 / (n - 1);
    a double precision;
    b double precision;
    v double precision;
    crossing double precision;
    knee double precision;
    area double precision;  -- integral of the membership over t in [0, 1]
    moment double precision;  -- integral of t times the membership
    total_area double precision := 0;
    total_moment double precision := 0;
BEGIN
    FOR k IN 1 .. n - 1 LOOP
        a := weights[k];
        b := weights[k + 1];
        v := least(a, b, 0.5);
        crossing := CASE WHEN a <= b THEN v ELSE 1 - v END;
        -- falling side on [0, crossing]: plateau a up to 1 - a, then 1 - t
        knee := least(crossing, 1 - a);
        area := a * knee;
        moment := a * knee ^ 2 / 2;
        IF crossing > knee THEN
            area := area + ((1 - knee) ^ 2 - (1 - crossing) ^ 2) / 2;
            moment := moment + (crossing ^ 2 - knee ^ 2) / 2 - (crossing ^ 3 - knee ^ 3) / 3;
        END IF;
        -- rising side on [crossing, 1]: t up to b, then plateau b
        knee := greatest(crossing, b);
        area := area + b * (1 - knee);
        moment := moment + b * (1 - knee ^ 2) / 2;
        IF knee > crossing THEN
            area := area + (knee ^ 2 - crossing ^ 2) / 2;
            moment := moment + (knee ^ 3 - crossing ^ 3) / 3;
        END IF;
        -- back to y = c_k + h t: dy = h dt
        total_area := total_area + h * area;
        total_moment := total_moment + h * ((k - 1) * h * area + h * moment);
    END LOOP;
    RETURN total_moment / nullif(total_area, 0);
END;
$$;

-- The fuzzy inference for one pair of severities: the five rule strengths and the score.
CREATE OR REPLACE FUNCTION ess.exsos_infer(
    severity_a double precision,
    severity_b double precision,
    OUT catastrophic double precision,
    OUT critical double precision,
    OUT neutral double precision,
    OUT marginal double precision,
    OUT negligible double precision,
    OUT integrated_safety double precision
)
LANGUAGE plpgsql
IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    a double precision := greatest(0.0, least(1.0, severity_a));
    b double precision := greatest(0.0, least(1.0, severity_b));
    low_a double precision := greatest(0.0, 1 - 2 * a);
    medium_a double precision := greatest(0.0, 1 - abs(2 * a - 1));
    high_a double precision := greatest(0.0, 2 * a - 1);
    low_b double precision := greatest(0.0, 1 - 2 * b);
    medium_b double precision := greatest(0.0, 1 - abs(2 * b - 1));
    high_b double precision := greatest(0.0, 2 * b - 1);
BEGIN
    IF a IS NULL OR b IS NULL THEN
        RETURN;
    END IF;
    catastrophic := least(high_a, high_b);
    critical := greatest(
        least(high_a, low_b), least(low_a, high_b), least(high_a, medium_b), least(medium_a, high_b)
    );
    neutral := least(medium_a, medium_b);
    marginal := greatest(least(low_a, medium_b), least(medium_a, low_b));
    negligible := least(low_a, low_b);
    integrated_safety := ess.fuzzy_centroid(
        ARRAY[catastrophic, critical, neutral, marginal, negligible]
    );
END;
$$;

CREATE OR REPLACE FUNCTION ess.exsos_class(integrated_safety double precision)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    -- the output set whose triangle is highest at the score: the nearest peak, a score half-way
    -- between two peaks (0.125, 0.375, ...) going to the safer one: round half up, where round()
    -- of a double precision rounds halves to even (0.125 and 0.375 would go different ways)
    SELECT (ARRAY['catastrophic', 'critical', 'neutral', 'marginal', 'negligible'])[
        floor(integrated_safety * 4 + 0.5)::integer + 1
    ]
$$;

-- ExSoS per time bucket: p_mode 2 per rack, p_mode 1 per bank (inputs of the worst rack), with
-- all seven worst-case inputs of the bucket besides the two the operating state chose.
-- (Dropped first: its columns grew, which CREATE OR REPLACE cannot do.)
DROP FUNCTION IF EXISTS ess.exsos(
    integer, integer, integer, timestamptz, timestamptz, interval, integer, double precision
);
CREATE FUNCTION ess.exsos(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start timestamptz,
    p_end timestamptz,
    p_bucket interval DEFAULT '1 minute',
    p_mode integer DEFAULT 2,
    p_dead_band double precision DEFAULT 2.0
)
RETURNS TABLE (
    bucket timestamptz,
    mode integer,
    bank_id smallint,
    rack_id smallint,
    operating_state text,
    mean_current double precision,
    max_cell_voltage double precision,
    max_cell_temperature double precision,
    min_cell_voltage double precision,
    min_cell_temperature double precision,
    max_cell_voltage_gap double precision,
    max_cell_temperature_gap double precision,
    hazard_a text,
    quantity_a text,
    value_a double precision,
    severity_a double precision,
    hazard_b text,
    quantity_b text,
    value_b double precision,
    severity_b double precision,
    catastrophic double precision,
    critical double precision,
    neutral double precision,
    marginal double precision,
    negligible double precision,
    integrated_safety double precision,
    exsos_class text
)
LANGUAGE sql
STABLE
AS $$
    WITH scale AS (
        -- per hazard: release value (SoS parameters), warning and fault levels (protection map)
        SELECT p.hazard, p.quantity, p.h_s, t.warning_level, t.fault_level
        FROM ess.site_sos_parameters(p_site) AS p
        INNER JOIN ess.site_protection_thresholds(p_site) AS t ON t.sos_hazard = p.hazard
    ),

    paired AS (
        SELECT
            i.bucket,
            i.bank_id,
            i.rack_id,
            state.operating_state,
            i.avg_current,
            i.max_cell_voltage,
            i.max_cell_temperature,
            i.min_cell_voltage,
            i.min_cell_temperature,
            i.max_cell_voltage_gap,
            i.max_cell_temperature_gap,
            pair.hazard_a,
            pair.value_a,
            pair.hazard_b,
            pair.value_b
        FROM
            ess.rack_hazard_inputs(
                p_site, p_bank, p_rack, p_start, p_end, p_bucket, p_mode = 2
            ) AS i
        CROSS JOIN LATERAL (
            SELECT
                CASE
                    WHEN i.avg_current >= p_dead_band THEN 'charge'
                    WHEN i.avg_current <= -p_dead_band THEN 'discharge'
                    ELSE 'rest'
                END AS operating_state
        ) AS state
        INNER JOIN LATERAL (
            VALUES
            (
                'charge', 'over_voltage', i.max_cell_voltage,
                'over_temperature', i.max_cell_temperature
            ),
            (
                'discharge', 'under_voltage', i.min_cell_voltage,
                'under_temperature', i.min_cell_temperature
            ),
            (
                'rest', 'voltage_unbalance', i.max_cell_voltage_gap,
                'temperature_unbalance', i.max_cell_temperature_gap
            )
        ) AS pair (operating_state, hazard_a, value_a, hazard_b, value_b)
            ON pair.operating_state = state.operating_state
    )

    SELECT
        x.bucket,
        p_mode,
        x.bank_id,
        x.rack_id,
        x.operating_state,
        x.avg_current,
        x.max_cell_voltage,
        x.max_cell_temperature,
        x.min_cell_voltage,
        x.min_cell_temperature,
        x.max_cell_voltage_gap,
        x.max_cell_temperature_gap,
        x.hazard_a,
        a.quantity,
        x.value_a,
        severity.a,
        x.hazard_b,
        b.quantity,
        x.value_b,
        severity.b,
        f.catastrophic,
        f.critical,
        f.neutral,
        f.marginal,
        f.negligible,
        f.integrated_safety,
        ess.exsos_class(f.integrated_safety)
    FROM paired AS x
    INNER JOIN scale AS a ON a.hazard = x.hazard_a
    INNER JOIN scale AS b ON b.hazard = x.hazard_b
    CROSS JOIN LATERAL (
        SELECT
            ess.hazard_severity(x.value_a, a.h_s, a.warning_level, a.fault_level) AS a,
            ess.hazard_severity(x.value_b, b.h_s, b.warning_level, b.fault_level) AS b
    ) AS severity
    CROSS JOIN LATERAL ess.exsos_infer(severity.a, severity.b) AS f
    ORDER BY x.bank_id, x.rack_id, x.bucket
$$;

COMMENT ON FUNCTION ess.exsos(
    integer, integer, integer, timestamptz, timestamptz, interval, integer, double precision
) IS 'ExSoS (fuzzy extended SoS) per local time bucket, rack level (p_mode 2) or bank level '
'(p_mode 1): state, inputs, severities, the five membership degrees, the score and class. '
'docs/analytics-safety.md';
COMMENT ON FUNCTION ess.exsos_infer(double precision, double precision) IS
'ExSoS inference for two severities in [0, 1]: five rule strengths and the centroid score';
