-- Forecasts of rack quantities (docs/forecasting.md): features known at the issue time, the
-- baselines, the linear autoregression of the newest stored model, the hourly 24-hour forecast,
-- and views of the stored models for analysts.
--
-- The value of a rack quantity at an instant t on the minute grid is its aggregate over the
-- minute that ends at t, [t - 1 min, t), read from ess.rack_1m: all of it is known at t. The
-- 10-minute forecast issued at t predicts the value at t + 10 min (absolute time, so exact across
-- daylight saving changes), i.e. the aggregate over [t + 9 min, t + 10 min).
--
--   SELECT * FROM ess.forecast(2, 1, 3, 'max_cell_voltage', '2023-04-10 12:00+09',
--                              '2023-04-10 13:00+09');

-- ess.rack_sos comes from sos.sql, applied after this file: bodies are checked when called
SET check_function_bodies = off;

-- a . b, the linear model's prediction from its inputs
CREATE OR REPLACE FUNCTION ess.forecast_dot(a double precision[], b double precision[])
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT sum(x * y) FROM unnest(a, b) AS pair (x, y)
$$;

-- Per rack and minute-end t in [p_start, p_end): the value at t of every target and the
-- exogenous values at t (rack current and SoC, bank power, site ambient temperature). The SoS
-- target is ess.rack_sos() per minute, the platform's SoS definition; it is computed only with
-- p_with_sos (the other targets' forecasts do not pay for it). Training reads this once per site
-- for all targets (api/forecasting/features.py).
CREATE OR REPLACE FUNCTION ess.forecast_minute_values(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start timestamptz,
    p_end timestamptz,
    p_with_sos boolean
)
RETURNS TABLE (
    value_time timestamptz,
    bank_id smallint,
    rack_id smallint,
    max_cell_voltage double precision,
    min_cell_voltage double precision,
    max_cell_temperature double precision,
    min_cell_temperature double precision,
    sos double precision,
    rack_current double precision,
    rack_soc double precision,
    bank_power double precision,
    ambient_temperature double precision
)
LANGUAGE sql
STABLE
AS $$
    WITH sos AS (
        SELECT s.bucket, s.bank_id, s.rack_id, s.sos_score
        FROM ess.rack_sos(
            p_site, p_bank, p_rack, p_start - interval '1 minute', p_end - interval '1 minute'
        ) AS s
        WHERE p_with_sos
    ),

    ambient AS (
        SELECT
            time_bucket(interval '1 minute', e.ts) AS bucket,
            avg(e.sensor1_temperature) AS temperature
        FROM ess.etc AS e
        WHERE
            e.site_id = p_site
            AND e.ts >= p_start - interval '1 minute'
            AND e.ts < p_end - interval '1 minute'
        GROUP BY 1
    )

    SELECT
        r.bucket + interval '1 minute',
        r.bank_id,
        r.rack_id,
        r.max_rack_max_cell_voltage,
        r.min_rack_min_cell_voltage,
        r.max_rack_max_cell_temperature,
        r.min_rack_min_cell_temperature,
        sos.sos_score,
        r.sum_rack_current / nullif(r.n_rack_current, 0),
        r.sum_rack_soc / nullif(r.n_rack_soc, 0),
        b.sum_bank_power / nullif(b.n_bank_power, 0),
        ambient.temperature
    FROM ess.rack_1m AS r
    LEFT JOIN ess.bank_1m AS b
        ON r.site_id = b.site_id AND r.bank_id = b.bank_id AND r.bucket = b.bucket
    LEFT JOIN ambient ON r.bucket = ambient.bucket
    LEFT JOIN sos
        ON r.bucket = sos.bucket AND r.bank_id = sos.bank_id AND r.rack_id = sos.rack_id
    WHERE
        r.site_id = p_site
        AND (p_bank IS NULL OR r.bank_id = p_bank)
        AND (p_rack IS NULL OR r.rack_id = p_rack)
        AND r.bucket >= p_start - interval '1 minute'
        AND r.bucket < p_end - interval '1 minute'
$$;

-- The same per rack and minute-end, with one target's value (p_target: a column name above).
CREATE OR REPLACE FUNCTION ess.forecast_minute_series(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_target text,
    p_start timestamptz,
    p_end timestamptz
)
RETURNS TABLE (
    value_time timestamptz,
    bank_id smallint,
    rack_id smallint,
    target_value double precision,
    rack_current double precision,
    rack_soc double precision,
    bank_power double precision,
    ambient_temperature double precision
)
LANGUAGE sql
STABLE
AS $$
    SELECT
        v.value_time,
        v.bank_id,
        v.rack_id,
        CASE p_target
            WHEN 'max_cell_voltage' THEN v.max_cell_voltage
            WHEN 'min_cell_voltage' THEN v.min_cell_voltage
            WHEN 'max_cell_temperature' THEN v.max_cell_temperature
            WHEN 'min_cell_temperature' THEN v.min_cell_temperature
            WHEN 'sos' THEN v.sos
        END,
        v.rack_current,
        v.rack_soc,
        v.bank_power,
        v.ambient_temperature
    FROM ess.forecast_minute_values(
        p_site, p_bank, p_rack, p_start, p_end, p_target = 'sos'
    ) AS v
$$;

-- The newest version of every site's model per target (without the LightGBM text).
CREATE OR REPLACE VIEW ess.forecast_model_current AS
SELECT DISTINCT ON (m.site_id, m.forecast_target)
    m.model_id,
    m.site_id,
    m.forecast_target,
    m.model_version,
    m.trained_at,
    m.train_start,
    m.train_end,
    m.chosen_model,
    m.features,
    m.hyperparameters,
    m.linear_weights,
    m.interval_halfwidth,
    m.metrics
FROM ess.forecast_model AS m
ORDER BY m.site_id ASC, m.forecast_target ASC, m.model_version DESC;

-- The backtest of every stored version, one row per model.
CREATE OR REPLACE VIEW ess.forecast_backtest AS
SELECT
    m.site_id,
    m.forecast_target,
    m.model_version,
    m.trained_at,
    metric.key AS model_name,
    (metric.value ->> 'mae')::double precision AS mae,
    (metric.value ->> 'rmse')::double precision AS rmse,
    (metric.value ->> 'skill')::double precision AS skill,
    (metric.value ->> 'coverage')::double precision AS coverage,
    (metric.value ->> 'n')::bigint AS n,
    metric.key = m.chosen_model AS chosen
FROM ess.forecast_model AS m
CROSS JOIN LATERAL jsonb_each(m.metrics) AS metric;

-- One row per rack and issue time t in [p_start, p_end) on the p_step grid (local, from
-- midnight) where the value at t is known: the baselines, the features of the gradient-boosted
-- model, the linear autoregression of the newest stored model with its interval, and the value
-- at the target time once known. Every feature reads values at or before t.
CREATE OR REPLACE FUNCTION ess.forecast(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_target text,
    p_start timestamptz,
    p_end timestamptz,
    p_step interval DEFAULT '1 minute'
)
RETURNS TABLE (
    issue_time timestamptz,
    target_time timestamptz,
    bank_id smallint,
    rack_id smallint,
    observed double precision,
    seasonal_naive double precision,
    lag_1 double precision,
    lag_5 double precision,
    lag_10 double precision,
    mean_10 double precision,
    std_10 double precision,
    mean_60 double precision,
    min_60 double precision,
    max_60 double precision,
    rack_current double precision,
    rack_soc double precision,
    charge_state integer,
    bank_power double precision,
    ambient_temperature double precision,
    minute_of_day integer,
    linear_inputs double precision[],
    linear double precision,
    linear_lower double precision,
    linear_upper double precision,
    observed_at_target double precision,
    model_version integer
)
LANGUAGE sql
STABLE
AS $$
    WITH series AS (
        SELECT *
        FROM ess.forecast_minute_series(
            p_site, p_bank, p_rack, p_target,
            p_start - interval '1430 minutes', p_end + interval '10 minutes'
        )
    ),

    windowed AS (
        SELECT
            s.value_time,
            s.bank_id,
            s.rack_id,
            s.target_value AS observed,
            -- the value 24 hours before the target time: t + 10 min - 24 h
            first_value(s.target_value) OVER (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '1430 minutes' PRECEDING
                AND interval '1430 minutes' PRECEDING
            ) AS seasonal_naive,
            first_value(s.target_value) OVER (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '1 minute' PRECEDING AND interval '1 minute' PRECEDING
            ) AS lag_1,
            first_value(s.target_value) OVER (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '5 minutes' PRECEDING AND interval '5 minutes' PRECEDING
            ) AS lag_5,
            first_value(s.target_value) OVER (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '10 minutes' PRECEDING
                AND interval '10 minutes' PRECEDING
            ) AS lag_10,
            avg(s.target_value) OVER last_10 AS mean_10,
            stddev_pop(s.target_value) OVER last_10 AS std_10,
            avg(s.target_value) OVER last_60 AS mean_60,
            min(s.target_value) OVER last_60 AS min_60,
            max(s.target_value) OVER last_60 AS max_60,
            -- not a feature: the value the forecast is scored against
            first_value(s.target_value) OVER (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '10 minutes' FOLLOWING
                AND interval '10 minutes' FOLLOWING
            ) AS observed_at_target,
            s.rack_current,
            s.rack_soc,
            s.bank_power,
            s.ambient_temperature
        FROM series AS s
        WINDOW
            last_10 AS (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '9 minutes' PRECEDING AND CURRENT ROW
            ),
            last_60 AS (
                PARTITION BY s.bank_id, s.rack_id ORDER BY s.value_time
                RANGE BETWEEN interval '59 minutes' PRECEDING AND CURRENT ROW
            )
    ),

    site AS (
        SELECT s.timezone FROM ess.site AS s WHERE s.site_id = p_site
    ),

    issued AS (
        SELECT
            w.*,
            (
                extract(HOUR FROM w.value_time AT TIME ZONE site.timezone) * 60
                + extract(MINUTE FROM w.value_time AT TIME ZONE site.timezone)
            )::integer AS minute_of_day
        FROM windowed AS w
        CROSS JOIN site
        WHERE
            w.value_time >= p_start
            AND w.value_time < p_end
            AND w.observed IS NOT NULL
            AND (
                p_step = interval '1 minute'
                OR time_bucket(p_step, w.value_time, site.timezone) = w.value_time
            )
    ),

    model AS (
        SELECT
            c.model_version,
            c.linear_weights,
            (c.interval_halfwidth ->> 'linear')::double precision AS halfwidth
        FROM ess.forecast_model_current AS c
        WHERE c.site_id = p_site AND c.forecast_target = p_target
    )

    SELECT
        i.value_time,
        i.value_time + interval '10 minutes',
        i.bank_id,
        i.rack_id,
        i.observed,
        i.seasonal_naive,
        i.lag_1,
        i.lag_5,
        i.lag_10,
        i.mean_10,
        i.std_10,
        i.mean_60,
        i.min_60,
        i.max_60,
        i.rack_current,
        i.rack_soc,
        -- the operating state of ExSoS: charge (1) at or above +2 A, discharge (-1) at or below
        -- -2 A, rest (0) between
        CASE
            WHEN i.rack_current >= 2 THEN 1 WHEN i.rack_current <= -2 THEN -1 ELSE 0
        END,
        i.bank_power,
        i.ambient_temperature,
        i.minute_of_day,
        inputs.linear_inputs,
        linear.value,
        linear.value - model.halfwidth,
        linear.value + model.halfwidth,
        i.observed_at_target,
        model.model_version
    FROM issued AS i
    CROSS JOIN LATERAL (
        -- the linear model predicts the change from the value at t; a missing lag adds nothing
        SELECT ARRAY[
            1.0,
            coalesce(i.observed - i.lag_1, 0),
            coalesce(i.observed - i.lag_5, 0),
            coalesce(i.observed - i.lag_10, 0),
            coalesce(i.observed - i.mean_60, 0),
            coalesce(i.seasonal_naive - i.observed, 0),
            coalesce(i.rack_current, 0) / 100.0,
            sin(2 * pi() * i.minute_of_day / 1440.0),
            cos(2 * pi() * i.minute_of_day / 1440.0)
        ] AS linear_inputs
    ) AS inputs
    LEFT JOIN model ON TRUE
    CROSS JOIN LATERAL (
        SELECT i.observed + ess.forecast_dot(model.linear_weights, inputs.linear_inputs) AS value
    ) AS linear
    ORDER BY i.bank_id, i.rack_id, i.value_time
$$;

-- The 24-hour forecast of the rack's maximum cell voltage: the value at an instant t on the hour
-- grid is the maximum over the hour that ends at t (ess.rack_1h). Per rack and issue time t, for
-- the horizons h = 1..24 hours: the target times, the value at t (persistence), the value 24
-- hours before each target (seasonal naive), the linear model of the newest stored version
-- (per horizon: a + b * value at t + c * seasonal naive) and the values once known.
CREATE OR REPLACE FUNCTION ess.forecast_day_ahead(
    p_site integer,
    p_bank integer,
    p_rack integer,
    p_start timestamptz,
    p_end timestamptz,
    p_step interval DEFAULT '1 hour'
)
RETURNS TABLE (
    issue_time timestamptz,
    bank_id smallint,
    rack_id smallint,
    observed double precision,
    target_times timestamptz[],
    seasonal_naive double precision[],
    linear double precision[],
    linear_halfwidth double precision,
    observed_at_target double precision[],
    model_version integer
)
LANGUAGE sql
STABLE
AS $$
    WITH hourly AS (
        SELECT
            a.bucket + interval '1 hour' AS value_time,
            a.bank_id,
            a.rack_id,
            a.max_rack_max_cell_voltage AS target_value
        FROM ess.rack_1h AS a
        WHERE
            a.site_id = p_site
            AND (p_bank IS NULL OR a.bank_id = p_bank)
            AND (p_rack IS NULL OR a.rack_id = p_rack)
            AND a.bucket >= p_start - interval '24 hours'
            AND a.bucket < p_end + interval '24 hours'
    ),

    site AS (
        SELECT s.timezone FROM ess.site AS s WHERE s.site_id = p_site
    ),

    model AS (
        SELECT
            c.model_version,
            c.linear_weights,
            (c.interval_halfwidth ->> 'linear')::double precision AS halfwidth
        FROM ess.forecast_model_current AS c
        WHERE c.site_id = p_site AND c.forecast_target = 'max_cell_voltage_day_ahead'
    ),

    issued AS (
        SELECT h.*
        FROM hourly AS h
        CROSS JOIN site
        WHERE
            h.value_time >= p_start
            AND h.value_time < p_end
            AND h.target_value IS NOT NULL
            AND time_bucket(p_step, h.value_time, site.timezone) = h.value_time
    )

    SELECT
        i.value_time,
        i.bank_id,
        i.rack_id,
        i.target_value,
        array_agg(i.value_time + horizon.h * interval '1 hour' ORDER BY horizon.h),
        array_agg(season.target_value ORDER BY horizon.h),
        array_agg(
            model.linear_weights[3 * horizon.h - 2]
            + model.linear_weights[3 * horizon.h - 1] * i.target_value
            + model.linear_weights[3 * horizon.h]
            * coalesce(season.target_value, i.target_value)
            ORDER BY horizon.h
        ),
        min(model.halfwidth),
        array_agg(future.target_value ORDER BY horizon.h),
        min(model.model_version)
    FROM issued AS i
    CROSS JOIN generate_series(1, 24) AS horizon (h)
    LEFT JOIN hourly AS season
        ON
            i.bank_id = season.bank_id
            AND i.rack_id = season.rack_id
            AND season.value_time = i.value_time + (horizon.h - 24) * interval '1 hour'
    LEFT JOIN hourly AS future
        ON
            i.bank_id = future.bank_id
            AND i.rack_id = future.rack_id
            AND future.value_time = i.value_time + horizon.h * interval '1 hour'
    LEFT JOIN model ON TRUE
    GROUP BY i.value_time, i.bank_id, i.rack_id, i.target_value
    ORDER BY i.bank_id, i.rack_id, i.value_time
$$;

-- Store a new version of a site's model for a target (the next version number); the advisory
-- lock serializes two trainings of the same site and target.
CREATE OR REPLACE FUNCTION ess.add_forecast_model(
    p_site integer,
    p_target text,
    p_train_start timestamptz,
    p_train_end timestamptz,
    p_chosen_model text,
    p_features text[],
    p_hyperparameters jsonb,
    p_linear_weights double precision[],
    p_lightgbm_model text,
    p_interval_halfwidth jsonb,
    p_metrics jsonb
)
RETURNS integer
LANGUAGE sql
VOLATILE
AS $$
    SELECT pg_advisory_xact_lock(hashtext('ess.forecast_model'), p_site);
    INSERT INTO ess.forecast_model (
        site_id, forecast_target, model_version, train_start, train_end, chosen_model,
        features, hyperparameters, linear_weights, lightgbm_model, interval_halfwidth, metrics
    )
    SELECT
        p_site,
        p_target,
        coalesce(max(m.model_version), 0) + 1,
        p_train_start,
        p_train_end,
        p_chosen_model,
        p_features,
        p_hyperparameters,
        p_linear_weights,
        p_lightgbm_model,
        p_interval_halfwidth,
        p_metrics
    FROM ess.forecast_model AS m
    WHERE m.site_id = p_site AND m.forecast_target = p_target
    RETURNING model_version;
$$;

COMMENT ON FUNCTION ess.forecast(
    integer, integer, integer, text, timestamptz, timestamptz, interval
) IS 'The 10-minute-ahead forecast of a rack quantity (site, bank, rack or NULL, target, start, '
'end, step): baselines, features, the stored linear model with its interval. '
'docs/forecasting.md';
COMMENT ON FUNCTION ess.forecast_day_ahead(
    integer, integer, integer, timestamptz, timestamptz, interval
) IS 'The next 24 hours of the rack maximum cell voltage per issue time: baselines and the '
'stored linear model. docs/forecasting.md';

RESET check_function_bodies;
