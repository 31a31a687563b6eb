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
-- (k - 1) / (n - 1), half-width 1 / (n - 1)) clipped at weights[k]. The combined membership is
-- piecewise linear; between consecutive knots (peaks, clip corners, crossings of neighbouring
-- sets) it is linear, so the integrals below are exact.
CREATE OR REPLACE FUNCTION ess.fuzzy_centroid(weights double precision[])
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    WITH output_set AS (
        SELECT
            (k - 1)::double precision / (n - 1) AS peak,
            1.0 / (n - 1) AS half_width,
            weights[k] AS weight
        FROM (SELECT array_length(weights, 1) AS n) AS size
        CROSS JOIN LATERAL generate_series(1, size.n) AS k
    ),

    knot AS (
        SELECT DISTINCT least(1.0, greatest(0.0, o.peak + o.half_width * shift.f)) AS y
        FROM output_set AS o
        CROSS JOIN LATERAL (
            VALUES (0.0), (1.0 - o.weight), (o.weight - 1.0), (o.weight), (-o.weight), (0.5), (-0.5)
        ) AS shift (f)
    ),

    curve AS (
        SELECT
            knot.y,
            (
                SELECT max(least(o.weight, greatest(0.0, 1.0 - abs(knot.y - o.peak) / o.half_width)))
                FROM output_set AS o
            ) AS mu
        FROM knot
    ),

    piece AS (
        SELECT
            lag(y) OVER by_y AS y0,
            y AS y1,
            lag(mu) OVER by_y AS mu0,
            mu AS mu1
        FROM curve
        WINDOW by_y AS (ORDER BY y)
    )

    -- integral of y * mu and of mu over each linear piece
    SELECT
        sum((y1 - y0) * (y0 * (2 * mu0 + mu1) + y1 * (mu0 + 2 * mu1)) / 6.0)
        / nullif(sum((y1 - y0) * (mu0 + mu1) / 2.0), 0.0)
    FROM piece
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
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    WITH membership AS (
        SELECT
            greatest(0.0, 1.0 - 2.0 * a.s) AS low_a,
            greatest(0.0, 1.0 - abs(2.0 * a.s - 1.0)) AS medium_a,
            greatest(0.0, 2.0 * a.s - 1.0) AS high_a,
            greatest(0.0, 1.0 - 2.0 * b.s) AS low_b,
            greatest(0.0, 1.0 - abs(2.0 * b.s - 1.0)) AS medium_b,
            greatest(0.0, 2.0 * b.s - 1.0) AS high_b
        FROM (SELECT greatest(0.0, least(1.0, severity_a)) AS s) AS a
        CROSS JOIN (SELECT greatest(0.0, least(1.0, severity_b)) AS s) AS b
    ),

    rule AS (
        SELECT
            least(high_a, high_b) AS catastrophic,
            greatest(
                least(high_a, low_b),
                least(low_a, high_b),
                least(high_a, medium_b),
                least(medium_a, high_b)
            ) AS critical,
            least(medium_a, medium_b) AS neutral,
            greatest(least(low_a, medium_b), least(medium_a, low_b)) AS marginal,
            least(low_a, low_b) AS negligible
        FROM membership
    )

    SELECT
        r.catastrophic,
        r.critical,
        r.neutral,
        r.marginal,
        r.negligible,
        ess.fuzzy_centroid(
            ARRAY[r.catastrophic, r.critical, r.neutral, r.marginal, r.negligible]
        )
    FROM rule AS r
$$;

CREATE OR REPLACE FUNCTION ess.exsos_class(integrated_safety double precision)
RETURNS text
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    -- the output set whose triangle is highest at the score: the nearest peak
    SELECT (ARRAY['catastrophic', 'critical', 'neutral', 'marginal', 'negligible'])[
        round(integrated_safety * 4)::integer + 1
    ]
$$;

-- ExSoS per time bucket: p_mode 2 per rack, p_mode 1 per bank (inputs of the worst rack).
CREATE OR REPLACE FUNCTION ess.exsos(
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
