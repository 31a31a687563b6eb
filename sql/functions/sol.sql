-- SoL, the State of Life: SoL = (SoH - 80) x 5 in percent (SoH 100 -> 100, SoH 80 -> 0, the
-- usual end of life of a stationary battery), from the daily mean SoH of a bank (bank_soh) or of
-- one rack (rack_soh), days being the site's local days.
--
-- Forecast: a straight line fitted by least squares to the daily SoL of the last p_fit_days days
-- up to the origin (the last day with data), extrapolated day by day, with a 95 % prediction
-- interval: value +- t(0.975, n - 2) * s * sqrt(1 + 1/n + (x - mean x)^2 / Sxx), where s is the
-- residual standard error, x the day offset from the origin and Sxx the spread of the fitted x.
-- At least three days are needed. Backtest: fit up to (origin - holdout), forecast the holdout
-- days, and compare the mean absolute error with persistence (SoL stays at its last value).
--
--   SELECT * FROM ess.sol_forecast(3, 1, NULL, '2023-05-01', '2023-08-31');
--   SELECT * FROM ess.sol_backtest(3, 1, NULL, '2023-06-15', 14);

-- Mean SoH per local day: of bank p_bank (p_rack NULL; all banks if p_bank is NULL too) or of
-- one rack. Reads the 1-hour continuous aggregate where its grid matches the site's local days.
CREATE OR REPLACE FUNCTION ess.daily_soh(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start_date date,
    p_end_date date
)
RETURNS TABLE (
    day date,
    bank_id smallint,
    rack_id smallint,
    soh double precision,
    sol double precision,
    n_rows bigint
)
LANGUAGE sql
STABLE
AS $$
    WITH span AS (
        SELECT
            s.timezone,
            p_start_date::timestamp AT TIME ZONE s.timezone AS span_start,
            (p_end_date + 1)::timestamp AT TIME ZONE s.timezone AS span_end
        FROM ess.site AS s
        WHERE s.site_id = p_site
    ),

    source AS (
        SELECT
            ess.aggregate_serves(
                CASE WHEN p_rack IS NULL THEN 'bank_1h' ELSE 'rack_1h' END,
                '1 day', span.span_start, span.span_end, span.timezone
            ) AS use_aggregate
        FROM span
    ),

    summary AS (
        SELECT
            b.ts AS bucket,
            b.site_id,
            b.bank_id,
            NULL::smallint AS rack_id,
            b.bank_soh AS sum_soh,
            (b.bank_soh IS NOT NULL)::integer::bigint AS n_soh
        FROM ess.bank AS b
        WHERE p_rack IS NULL AND NOT (SELECT use_aggregate FROM source)
        UNION ALL
        SELECT a.bucket, a.site_id, a.bank_id, NULL, a.sum_bank_soh, a.n_bank_soh
        FROM ess.bank_1h AS a
        WHERE p_rack IS NULL AND (SELECT use_aggregate FROM source)
        UNION ALL
        SELECT
            r.ts, r.site_id, r.bank_id, r.rack_id, r.rack_soh,
            (r.rack_soh IS NOT NULL)::integer::bigint
        FROM ess.rack AS r
        WHERE p_rack IS NOT NULL AND NOT (SELECT use_aggregate FROM source)
        UNION ALL
        SELECT a.bucket, a.site_id, a.bank_id, a.rack_id, a.sum_rack_soh, a.n_rack_soh
        FROM ess.rack_1h AS a
        WHERE p_rack IS NOT NULL AND (SELECT use_aggregate FROM source)
    )

    SELECT
        daily.day,
        daily.bank_id,
        daily.rack_id,
        daily.soh,
        (daily.soh - 80) * 5 AS sol,
        daily.n_rows
    FROM (
        SELECT
            (m.bucket AT TIME ZONE span.timezone)::date AS day,
            m.bank_id,
            m.rack_id,
            sum(m.sum_soh) / nullif(sum(m.n_soh), 0) AS soh,
            sum(m.n_soh)::bigint AS n_rows
        FROM summary AS m
        CROSS JOIN span
        WHERE
            m.site_id = p_site
            AND (p_bank IS NULL OR m.bank_id = p_bank)
            AND (p_rack IS NULL OR m.rack_id = p_rack)
            AND m.bucket >= span.span_start
            AND m.bucket < span.span_end
        GROUP BY 1, 2, 3
    ) AS daily
    WHERE daily.soh IS NOT NULL
    ORDER BY daily.bank_id, daily.rack_id, daily.day
$$;

-- Two-sided 95 % quantile of Student's t with df degrees of freedom: the table up to 30, the
-- Cornish-Fisher expansion around the normal quantile beyond (error below 1e-4).
CREATE OR REPLACE FUNCTION ess.student_t_975(df integer)
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN df < 1 THEN NULL
        WHEN df <= 30 THEN (ARRAY[
            12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
            2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
            2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423
        ])[df]
        ELSE
            z + (z ^ 3 + z) / 4 / df
            + (5 * z ^ 5 + 16 * z ^ 3 + 3 * z) / 96 / df ^ 2
            + (3 * z ^ 7 + 19 * z ^ 5 + 17 * z ^ 3 - 15 * z) / 384 / df ^ 3
    END
    FROM (SELECT 1.959963984540054 AS z) AS normal
$$;

-- The last day with data in [p_from, p_to]: the forecast origin.
CREATE OR REPLACE FUNCTION ess.sol_origin(
    p_site integer, p_bank integer, p_rack integer, p_from date, p_to date
) RETURNS date
LANGUAGE sql
STABLE
AS $$
    SELECT max(d.day) FROM ess.daily_soh(p_site, p_bank, p_rack, p_from, p_to) AS d
$$;

-- The least-squares line through the daily SoL of (p_origin - p_fit_days, p_origin], per series,
-- with x = day - p_origin (so the intercept is the fitted SoL at the origin).
CREATE OR REPLACE FUNCTION ess.sol_trend(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_origin date,
    p_fit_days integer DEFAULT 90
)
RETURNS TABLE (
    bank_id smallint,
    rack_id smallint,
    origin date,
    fit_start date,
    n_days integer,
    slope_per_day double precision,
    intercept double precision,
    mean_x double precision,
    sxx double precision,
    residual_se double precision,
    t_quantile double precision,
    last_day date,
    last_value double precision
)
LANGUAGE sql
STABLE
AS $$
    SELECT
        d.bank_id,
        d.rack_id,
        p_origin,
        p_origin - p_fit_days + 1,
        count(*)::integer,
        regr_slope(d.sol, d.day - p_origin),
        regr_intercept(d.sol, d.day - p_origin),
        avg(d.day - p_origin),
        regr_sxx(d.sol, d.day - p_origin),
        CASE
            WHEN count(*) > 2 AND regr_sxx(d.sol, d.day - p_origin) > 0 THEN sqrt(
                greatest(
                    regr_syy(d.sol, d.day - p_origin)
                    - regr_sxy(d.sol, d.day - p_origin) ^ 2 / regr_sxx(d.sol, d.day - p_origin),
                    0
                ) / (count(*) - 2)
            )
        END,
        ess.student_t_975(count(*)::integer - 2),
        max(d.day),
        (array_agg(d.sol ORDER BY d.day DESC))[1]
    FROM ess.daily_soh(p_site, p_bank, p_rack, p_origin - p_fit_days + 1, p_origin) AS d
    GROUP BY d.bank_id, d.rack_id
$$;

-- Daily SoL over [p_start_date, p_end_date]: observed up to the origin (default: the last day
-- with data in [p_start_date - p_fit_days, p_end_date]), forecast after it with the 95 %
-- prediction band (top_limit_value, bottom_limit_value; NULL on observed days).
CREATE OR REPLACE FUNCTION ess.sol_forecast(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start_date date,
    p_end_date date,
    p_fit_days integer DEFAULT 90,
    p_origin date DEFAULT NULL
)
RETURNS TABLE (
    bank_id smallint,
    rack_id smallint,
    day date,
    value double precision,
    top_limit_value double precision,
    bottom_limit_value double precision,
    kind text
)
LANGUAGE sql
STABLE
AS $$
    WITH origin AS (
        SELECT
            coalesce(
                p_origin,
                ess.sol_origin(p_site, p_bank, p_rack, p_start_date - p_fit_days, p_end_date)
            ) AS day
    )

    SELECT d.bank_id, d.rack_id, d.day, d.sol, NULL, NULL, 'observed'
    FROM ess.daily_soh(p_site, p_bank, p_rack, p_start_date, p_end_date) AS d
    CROSS JOIN origin
    WHERE d.day <= origin.day
    UNION ALL
    SELECT
        t.bank_id,
        t.rack_id,
        ahead.day,
        fit.value,
        fit.value + fit.half_width,
        fit.value - fit.half_width,
        'forecast'
    FROM origin
    CROSS JOIN LATERAL ess.sol_trend(p_site, p_bank, p_rack, origin.day, p_fit_days) AS t
    CROSS JOIN LATERAL (
        SELECT g::date AS day
        FROM generate_series(greatest(origin.day + 1, p_start_date), p_end_date, '1 day') AS g
    ) AS ahead
    CROSS JOIN LATERAL (
        SELECT
            t.intercept + t.slope_per_day * (ahead.day - origin.day) AS value,
            t.t_quantile * t.residual_se * sqrt(
                1 + 1.0 / t.n_days + ((ahead.day - origin.day) - t.mean_x) ^ 2 / t.sxx
            ) AS half_width
    ) AS fit
    WHERE t.n_days >= 3
    ORDER BY 1, 2, 3
$$;

-- Backtest at p_origin: the forecast made at p_origin against the observed SoL of the next
-- p_holdout_days days; mean absolute error of the trend and of persistence (the last observed
-- value), and the share of observed days inside the prediction band.
CREATE OR REPLACE FUNCTION ess.sol_backtest(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_origin date,
    p_holdout_days integer DEFAULT 14,
    p_fit_days integer DEFAULT 90
)
RETURNS TABLE (
    bank_id smallint,
    rack_id smallint,
    origin date,
    holdout_days bigint,
    mae_trend double precision,
    mae_persistence double precision,
    band_coverage double precision
)
LANGUAGE sql
STABLE
AS $$
    SELECT
        actual.bank_id,
        actual.rack_id,
        p_origin,
        count(*),
        avg(abs(f.value - actual.sol)),
        avg(abs(t.last_value - actual.sol)),
        avg((actual.sol BETWEEN f.bottom_limit_value AND f.top_limit_value)::integer)
    FROM
        ess.daily_soh(
            p_site, p_bank, p_rack, p_origin + 1, p_origin + p_holdout_days
        ) AS actual
    INNER JOIN
        ess.sol_forecast(
            p_site, p_bank, p_rack, p_origin + 1, p_origin + p_holdout_days, p_fit_days, p_origin
        ) AS f
        ON
            f.bank_id = actual.bank_id
            AND f.rack_id IS NOT DISTINCT FROM actual.rack_id
            AND f.day = actual.day
            AND f.kind = 'forecast'
    INNER JOIN ess.sol_trend(p_site, p_bank, p_rack, p_origin, p_fit_days) AS t
        ON t.bank_id = actual.bank_id AND t.rack_id IS NOT DISTINCT FROM actual.rack_id
    GROUP BY actual.bank_id, actual.rack_id
$$;

-- The models behind ess.sol_forecast over [p_start_date, p_end_date]: per series the trend at
-- the forecast origin and the backtest of the same method p_holdout_days earlier.
CREATE OR REPLACE FUNCTION ess.sol_models(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start_date date,
    p_end_date date,
    p_fit_days integer DEFAULT 90,
    p_holdout_days integer DEFAULT 14
)
RETURNS TABLE (
    bank_id smallint,
    rack_id smallint,
    origin date,
    fit_start date,
    n_days integer,
    slope_per_day double precision,
    intercept double precision,
    residual_se double precision,
    t_quantile double precision,
    backtest_origin date,
    holdout_days bigint,
    mae_trend double precision,
    mae_persistence double precision,
    band_coverage double precision
)
LANGUAGE sql
STABLE
AS $$
    WITH origin AS (
        SELECT
            ess.sol_origin(
                p_site, p_bank, p_rack, p_start_date - p_fit_days, p_end_date
            ) AS day
    )

    SELECT
        t.bank_id,
        t.rack_id,
        t.origin,
        t.fit_start,
        t.n_days,
        t.slope_per_day,
        t.intercept,
        t.residual_se,
        t.t_quantile,
        b.origin,
        b.holdout_days,
        b.mae_trend,
        b.mae_persistence,
        b.band_coverage
    FROM origin
    CROSS JOIN LATERAL ess.sol_trend(p_site, p_bank, p_rack, origin.day, p_fit_days) AS t
    LEFT JOIN LATERAL ess.sol_backtest(
        p_site, p_bank, p_rack, origin.day - p_holdout_days, p_holdout_days, p_fit_days
    ) AS b
        ON b.bank_id = t.bank_id AND b.rack_id IS NOT DISTINCT FROM t.rack_id
    ORDER BY t.bank_id, t.rack_id
$$;

COMMENT ON FUNCTION ess.sol_forecast(integer, integer, integer, date, date, integer, date) IS
'Daily SoL = (SoH - 80) x 5 of a bank (or rack): observed, then a least-squares forecast with a '
'95 % prediction band. docs/analytics-safety.md';
COMMENT ON FUNCTION ess.sol_backtest(integer, integer, integer, date, integer, integer) IS
'The SoL trend forecast made at a day against the observed days after it, and persistence';
