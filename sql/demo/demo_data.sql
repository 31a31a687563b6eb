-- The demo-data generator behind `ess demo` (api/demo/): believable operating data for any
-- site of the catalog, computed in the database from generate_series (the embedded engine has
-- no COPY FROM, and server-side generation is the fastest path on both engines).
--
-- Deterministic: no random(). Every pseudo-random number is a 64-bit hash (hashint8extended) of
-- (seed, site, bank, rack, stream) and of the instant or the day, mapped to [0, 1); the same seed
-- gives the same rows, byte for byte. Rows are inserted with ON CONFLICT DO NOTHING on the unique
-- keys, so running the same generation twice adds nothing.
--
-- The model (docs/demo.md tells the whole story):
-- * one daily cycle per local day: rest near empty, PV charge 10:00-13:30, rest near the top,
--   discharge 16:00-22:30, rest. A seeded cloud factor per site and day scales the charge (and
--   so the discharge, the heating and the PV output); charge current flickers with the clouds.
-- * BMS SoC 0.5..89.5 % in the 0-90 % window; cell voltage from the OCV table of the cell type
--   (33J for site 1, 41J for site 2; a site without one, like site 3, is modelled on 33J) plus
--   I*R (0.1 ohm per 240 cells); racks are in parallel, so rack voltage ~ bank voltage.
-- * temperatures: HVAC container near 23 C, cells rise 8-9 C over a full charge and decay with a
--   3 h time constant; 6-10 C spread inside a rack; module humidity 21-49 %.
-- * about 2.5 % of the seconds are missing: 3-8 s gaps, and rarely 20-100 s.
-- * anomalies planned in ess.demo_anomaly (see ess.demo_plan_anomalies) are applied to the rack
--   rows, and every BMS flag follows the site's protection map (ess.protection_threshold).
--
-- From psql (on the embedded engine prefer `ess demo`, which keeps every statement short):
--   SELECT * FROM ess.demo_generate(2, '2023-04-10 00:00+09', '2023-04-11 00:00+09', '10 s', 1);

-- A uniform number in [0, 1) drawn from the 64-bit hash of x under key.
CREATE OR REPLACE FUNCTION ess.demo_u(key bigint, x bigint)
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT hashint8extended(x, key)::double precision / 18446744073709551616.0 + 0.5
$$;

-- x rounded to 1/scale (10: 0.1, 1000: 0.001); adding 0.0 turns -0.0 into 0.0.
CREATE OR REPLACE FUNCTION ess.demo_round(x double precision, scale double precision)
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT round(x * scale) / scale + 0.0
$$;

-- The hash key of one random stream of one rack (bank_id = rack_id = 0: of the site).
CREATE OR REPLACE FUNCTION ess.demo_key(
    seed bigint, site_id integer, bank_id integer, rack_id integer, stream integer
)
RETURNS bigint
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT hashint8extended(
        ((site_id::bigint * 256 + bank_id) * 256 + rack_id) * 256 + stream, seed
    )
$$;

-- Smooth noise in [0, 1]: hashed knots every `period` seconds, smoothstep in between.
CREATE OR REPLACE FUNCTION ess.demo_smooth(key bigint, t double precision, period double precision)
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT
        ess.demo_u(key, floor(t / period)::bigint)
        + (
            ess.demo_u(key, floor(t / period)::bigint + 1)
            - ess.demo_u(key, floor(t / period)::bigint)
        )
        * (t / period - floor(t / period)) ^ 2 * (3 - 2 * (t / period - floor(t / period)))
$$;

-- An episode's shape: 0 outside [starts_at, ends_at), sin^2 inside (1 at the middle).
CREATE OR REPLACE FUNCTION ess.demo_bump(t timestamptz, starts_at timestamptz, ends_at timestamptz)
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN t >= starts_at AND t < ends_at
            THEN sin(
                pi() * date_part('epoch', t - starts_at) / date_part('epoch', ends_at - starts_at)
            ) ^ 2
        ELSE 0.0
    END
$$;

-- Is this second missing from a logger's output? Each 3-minute block holds a 3-8 s gap with
-- probability 0.78 (2.4 % of the seconds); each hour a 20-100 s gap with probability 0.05.
CREATE OR REPLACE FUNCTION ess.demo_missing(key bigint, epoch bigint)
RETURNS boolean
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT
        (
            ess.demo_u(key, epoch / 180 * 4) < 0.78
            AND epoch % 180 >= floor(ess.demo_u(key, epoch / 180 * 4 + 1) * 172)
            AND epoch % 180 < floor(ess.demo_u(key, epoch / 180 * 4 + 1) * 172)
            + 3 + floor(ess.demo_u(key, epoch / 180 * 4 + 2) * 6)
        )
        OR (
            ess.demo_u(key, -(epoch / 3600 * 4)) < 0.05
            AND epoch % 3600 >= floor(ess.demo_u(key, -(epoch / 3600 * 4 + 1)) * 3500)
            AND epoch % 3600 < floor(ess.demo_u(key, -(epoch / 3600 * 4 + 1)) * 3500)
            + 20 + floor(ess.demo_u(key, -(epoch / 3600 * 4 + 2)) * 81)
        )
$$;

-- The weather of a site's local day (days since 2000-01-01): 1 = a clear day that fills the
-- battery; seven days in ten are clear-ish (0.9-1), the others cloudy (0.3-0.85).
CREATE OR REPLACE FUNCTION ess.demo_cloud(seed bigint, site_id integer, day_number integer)
RETURNS double precision
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN ess.demo_u(ess.demo_key(seed, site_id, 0, 0, 1), day_number) < 0.7
            THEN least(
                1.0, 0.9 + 0.2 * ess.demo_u(ess.demo_key(seed, site_id, 0, 0, 2), day_number)
            )
        ELSE 0.3 + 0.55 * ess.demo_u(ess.demo_key(seed, site_id, 0, 0, 2), day_number)
    END
$$;

-- What the generator needs to know about a site: its catalog entry plus the cell type's facts.
-- ocv: open-circuit voltage at true SoC 0, 5, ..., 100 % (docs/domain.md). The BMS shows
-- 0-90 % of a window of the true SoC (true_soc_at_0 .. true_soc_at_90), chosen so that the bank
-- voltages match the sites' records (site 1 about 668-796 V, site 2 about 792-975 V).
-- soh_fades: site 2's BMS (41J) reports a constant SoH of 100.
DROP FUNCTION IF EXISTS ess.demo_site_profile(smallint);
CREATE OR REPLACE FUNCTION ess.demo_site_profile(p_site smallint)
RETURNS TABLE (
    timezone text,
    cell_type text,
    cells_in_series integer,
    modules_per_rack integer,
    cells_per_module integer,
    ocv double precision[],
    true_soc_at_0 double precision,
    true_soc_at_90 double precision,
    soh_fades boolean,
    commissioned_day integer,
    rack_total integer,
    first_bank smallint
)
LANGUAGE sql
STABLE
AS $$
    SELECT
        site.timezone,
        cell.cell_type,
        coalesce((site.topology ->> 'cells_in_series')::integer, 204),
        coalesce((site.topology ->> 'modules_per_rack')::integer, 17),
        coalesce((site.topology ->> 'cells_per_module')::integer, 12),
        cell.ocv,
        cell.true_soc_at_0,
        cell.true_soc_at_90,
        cell.soh_fades,
        coalesce(site.data_since, DATE '2021-01-01') - DATE '2000-01-01',
        (
            SELECT sum(bank.rack_count)::integer FROM ess.site_bank AS bank
            WHERE bank.site_id = p_site
        ),
        (SELECT min(bank.bank_id) FROM ess.site_bank AS bank WHERE bank.site_id = p_site)
    FROM ess.site AS site
    CROSS JOIN LATERAL (
        SELECT known.*
        FROM (
            VALUES
            (
                '33J',
                ARRAY[
                    3.213, 3.427, 3.463, 3.504, 3.548, 3.577, 3.599, 3.615, 3.626, 3.637, 3.656,
                    3.672, 3.693, 3.731, 3.778, 3.809, 3.842, 3.899, 3.941, 3.985, 4.036
                ]::double precision [],
                2.3, 85.0, TRUE
            ),
            (
                '41J',
                ARRAY[
                    2.851, 3.378, 3.418, 3.450, 3.503, 3.539, 3.567, 3.586, 3.601, 3.615, 3.631,
                    3.650, 3.678, 3.731, 3.792, 3.829, 3.870, 3.909, 3.952, 4.002, 4.058
                ]::double precision [],
                4.25, 97.0, FALSE
            )
        ) AS known (cell_type, ocv, true_soc_at_0, true_soc_at_90, soh_fades)
        ORDER BY known.cell_type = coalesce(site.topology ->> 'cell_type', '33J') DESC,
            known.cell_type = '33J' DESC
        LIMIT 1
    ) AS cell
    WHERE site.site_id = p_site
$$;

-- The state every rack of the site shares at each instant of [p_from, p_to) on the p_step grid:
-- schedule, SoC, the nominal current of one rack, cell voltage, heating, container climate, PV,
-- and the energy counters (per rack, since commissioning). Banks share the site's weather and
-- schedule; racks add their own deviations (ess.demo_rack_rows).
DROP FUNCTION IF EXISTS ess.demo_site_state(smallint, timestamptz, timestamptz, interval, bigint);
CREATE OR REPLACE FUNCTION ess.demo_site_state(
    p_site smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS TABLE (
    ts timestamptz,
    epoch bigint,
    day_number integer,
    operating_mode smallint,
    soc double precision,
    true_soc double precision,
    rack_current double precision,
    setpoint_current double precision,
    cell_voltage double precision,
    heat double precision,
    hvac double precision,
    humidity double precision,
    pv_kw double precision,
    charged_kwh double precision,
    discharged_kwh double precision,
    pv_kwh double precision,
    service_hours double precision,
    bms_missing boolean,
    pcs_missing boolean,
    etc_missing boolean
)
LANGUAGE sql
STABLE
AS $$
    WITH profile AS (
        SELECT * FROM ess.demo_site_profile(p_site)
    ),

    -- computed once per statement (the counters sum every day since commissioning)
    days AS MATERIALIZED (
        SELECT
            d.day_number,
            ess.demo_cloud(p_seed, p_site, d.day_number) AS cloud,
            ess.demo_cloud(p_seed, p_site, d.day_number - 1) AS cloud_before,
            (
                SELECT coalesce(sum(ess.demo_cloud(p_seed, p_site, past)), 0)
                FROM generate_series(profile.commissioned_day, d.day_number - 1) AS past
            ) AS clouds_before
        FROM profile
        CROSS JOIN LATERAL generate_series(
            (p_from AT TIME ZONE profile.timezone)::date - DATE '2000-01-01',
            (p_to AT TIME ZONE profile.timezone)::date - DATE '2000-01-01'
        ) AS d (day_number)
    ),

    ticks AS (
        SELECT
            tick AS ts,
            date_part('epoch', tick)::bigint AS epoch,
            (tick AT TIME ZONE profile.timezone)::date - DATE '2000-01-01' AS day_number,
            date_part('epoch', (tick AT TIME ZONE profile.timezone)::time) AS sod
        FROM profile
        CROSS JOIN generate_series(p_from, p_to, p_step) AS tick
        WHERE tick < p_to
    ),

    -- progress through the charge (10:00-13:30), the discharge (16:00-22:30) and daylight
    -- (06:00-19:00), each clamped to [0, 1]
    phases AS (
        SELECT
            ticks.*,
            days.cloud,
            days.cloud_before,
            days.clouds_before,
            least(greatest((ticks.sod - 36000) / 12600.0, 0), 1) AS x_charge,
            least(greatest((ticks.sod - 57600) / 23400.0, 0), 1) AS x_discharge,
            least(greatest((ticks.sod - 21600) / 46800.0, 0), 1) AS x_sun,
            ess.demo_smooth(ess.demo_key(p_seed, p_site, 0, 0, 3), ticks.epoch, 90) - 0.5
            AS flicker
        FROM ticks
        INNER JOIN days ON ticks.day_number = days.day_number
        OFFSET 0
    ),

    -- Charge current (per rack) 0.12 + 0.88 sin(pi x) of its peak, discharge 0.25 + 0.75 sin^2;
    -- their integrals (F, 0..1) move the SoC by delta = 89 % x cloud. A rack holds 166 Ah of
    -- the BMS's SoC window: a clear day peaks near +62 A per rack charging, -36 A discharging.
    profiles AS (
        SELECT
            phases.*,
            89.0 * phases.cloud AS delta,
            (
                0.12 * phases.x_charge + 0.88 * (1 - cos(pi() * phases.x_charge)) / pi()
            ) / 0.680225 AS f_charge,
            (
                0.25 * phases.x_discharge
                + 0.75 * (phases.x_discharge / 2 - sin(2 * pi() * phases.x_discharge) / (4 * pi()))
            ) / 0.625 AS f_discharge,
            CASE
                WHEN phases.sod >= 36000 AND phases.sod < 48600
                    THEN 0.89 * phases.cloud * 166 * (0.12 + 0.88 * sin(pi() * phases.x_charge))
                    / (3.5 * 0.680225)
                WHEN phases.sod >= 57600 AND phases.sod < 81000
                    THEN -0.89 * phases.cloud * 166
                    * (0.25 + 0.75 * sin(pi() * phases.x_discharge) ^ 2) / (6.5 * 0.625)
                ELSE 0.0
            END AS setpoint,
            CASE
                WHEN phases.sod >= 36000 AND phases.sod < 48600 THEN 1
                WHEN phases.sod >= 57600 AND phases.sod < 81000 THEN 2
                ELSE 0
            END::smallint AS operating_mode
        FROM phases
    ),

    levels AS (
        SELECT
            profiles.*,
            0.5 + profiles.delta * (profiles.f_charge - profiles.f_discharge) AS model_soc,
            -- charging follows the PV output through the clouds; discharging follows the load
            profiles.setpoint * CASE profiles.operating_mode
                WHEN 1 THEN 1 + (0.08 + 0.8 * (1 - profiles.cloud)) * profiles.flicker
                ELSE 1 + 0.1 * (
                    ess.demo_smooth(ess.demo_key(p_seed, p_site, 0, 0, 4), profiles.epoch, 300)
                    - 0.5
                )
            END AS current_now,
            -- heating: 9 C over a clear day's charge and 4 C over its discharge, each decaying
            -- with a 3 h time constant (yesterday's cycle still fades in the morning)
            9 * profiles.cloud * CASE
                WHEN profiles.sod < 36000 THEN 0
                WHEN profiles.sod < 48600 THEN profiles.f_charge
                ELSE exp(-(profiles.sod - 48600) / 10800.0)
            END
            + 4 * profiles.cloud * CASE
                WHEN profiles.sod < 57600 THEN 0
                WHEN profiles.sod < 81000 THEN profiles.f_discharge
                ELSE exp(-(profiles.sod - 81000) / 10800.0)
            END
            + 9 * profiles.cloud_before * exp(-(profiles.sod + 37800) / 10800.0)
            + 4 * profiles.cloud_before * exp(-(profiles.sod + 5400) / 10800.0) AS heat
        FROM profiles
    ),

    cells AS (
        SELECT
            levels.*,
            profile.true_soc_at_0
            + levels.model_soc * (profile.true_soc_at_90 - profile.true_soc_at_0) / 90 AS soc_true,
            profile.ocv,
            profile.cells_in_series,
            profile.rack_total,
            profile.commissioned_day
        FROM levels
        CROSS JOIN profile
        OFFSET 0
    ),

    interpolated AS (
        SELECT
            cells.*,
            least(floor(cells.soc_true / 5)::integer, 19) AS ocv_index
        FROM cells
    )

    SELECT
        s.ts,
        s.epoch,
        s.day_number,
        s.operating_mode,
        s.model_soc,
        s.soc_true,
        s.current_now,
        s.setpoint,
        s.ocv[s.ocv_index + 1]
        + (s.ocv[s.ocv_index + 2] - s.ocv[s.ocv_index + 1]) * (s.soc_true / 5 - s.ocv_index)
        + s.current_now * 0.1 / 240,
        s.heat,
        22.8 + 0.8 * (ess.demo_smooth(ess.demo_key(p_seed, p_site, 0, 0, 5), s.epoch, 1200) - 0.5)
        + 0.1 * s.heat,
        40 - 1.1 * s.heat
        + 8 * (ess.demo_smooth(ess.demo_key(p_seed, p_site, 0, 0, 6), s.epoch, 7200) - 0.5),
        -- PV sized at 90 kW per rack, sin^2 over daylight, dimmed and flickering with clouds
        90.0 * s.rack_total * s.cloud * sin(pi() * s.x_sun) ^ 2
        * (1 + (0.08 + 0.8 * (1 - s.cloud)) * s.flicker),
        -- kWh per rack: 1.66 Ah per % of SoC at 3.7 V per cell
        0.00614 * s.cells_in_series * 89 * (s.clouds_before + s.cloud * s.f_charge),
        0.00614 * s.cells_in_series * 89 * (s.clouds_before + s.cloud * s.f_discharge),
        90.0 * s.rack_total * 6.5 * (
            s.clouds_before
            + s.cloud * 2 * (s.x_sun / 2 - sin(2 * pi() * s.x_sun) / (4 * pi()))
        ),
        (s.day_number - s.commissioned_day) * 24 + s.sod / 3600,
        ess.demo_missing(ess.demo_key(p_seed, p_site, 0, 0, 10), s.epoch),
        ess.demo_missing(ess.demo_key(p_seed, p_site, 0, 0, 11), s.epoch),
        ess.demo_missing(ess.demo_key(p_seed, p_site, 0, 0, 12), s.epoch)
    FROM interpolated AS s
$$;

-- Rack rows of one bank. Per rack: a share of the bank current, a SoC offset, a measurement
-- offset, a cell spread, a thermal offset, an SoH fade rate, and the cells that usually hold the
-- max and min voltage and temperature. Anomalies of ess.demo_anomaly are applied, then every
-- flag is derived from the values with the site's protection map.
DROP FUNCTION IF EXISTS ess.demo_rack_rows(
    smallint, smallint, timestamptz, timestamptz, interval, bigint
);
CREATE OR REPLACE FUNCTION ess.demo_rack_rows(
    p_site smallint,
    p_bank smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS TABLE (
    ts timestamptz,
    site_id smallint,
    bank_id smallint,
    rack_id smallint,
    rack_soc double precision,
    rack_soh double precision,
    rack_voltage double precision,
    rack_current double precision,
    rack_max_cell_voltage double precision,
    rack_max_cell_voltage_position double precision,
    rack_min_cell_voltage double precision,
    rack_min_cell_voltage_position double precision,
    rack_cell_voltage_gap double precision,
    rack_cell_voltage_average double precision,
    rack_max_cell_temperature double precision,
    rack_max_cell_temperature_position double precision,
    rack_min_cell_temperature double precision,
    rack_min_cell_temperature_position double precision,
    rack_cell_temperature_gap double precision,
    rack_discharge_relay_minus_status smallint,
    rack_charge_relay_plus_status smallint,
    rack_cell_balance_status smallint,
    rack_current_sensor_discharge smallint,
    rack_current_sensor_charge smallint,
    rack_status_for_run smallint,
    rack_status_for_fault smallint,
    rack_status_for_warning smallint,
    rack_temperature_imbalance_warning smallint,
    rack_under_temperature_warning smallint,
    rack_over_temperature_warning smallint,
    rack_voltage_imbalance_warning smallint,
    rack_under_voltage_protection_warning smallint,
    rack_over_voltage_protection_warning smallint,
    rack_over_current_charge_warning smallint,
    rack_over_current_discharge_warning smallint,
    rack_temperature_imbalance_fault smallint,
    rack_under_temperature_fault smallint,
    rack_over_temperature_fault smallint,
    rack_voltage_imbalance_fault smallint,
    rack_under_voltage_protection_fault smallint,
    rack_over_voltage_protection_fault smallint,
    rack_over_current_charge_fault smallint,
    rack_over_current_discharge_fault smallint,
    rack_cell_temperature_average double precision,
    rack_max_module_temperature double precision,
    rack_max_module_temperature_position double precision,
    rack_min_module_temperature double precision,
    rack_min_module_temperature_position double precision,
    rack_max_module_humidity double precision,
    rack_max_module_humidity_position double precision,
    rack_min_module_humidity double precision,
    rack_min_module_humidity_position double precision,
    rack_status_for_online smallint,
    rack_tray_volatge_imbalance_warning smallint,
    rack_module_fault jsonb
)
LANGUAGE sql
STABLE
AS $$
    WITH profile AS (
        SELECT * FROM ess.demo_site_profile(p_site)
    ),

    -- the site's protection map: its own rows, else the defaults
    limits AS (
        SELECT
            max(t.warning_level) FILTER (WHERE t.code = 1) AS over_voltage_warning,
            max(t.fault_level) FILTER (WHERE t.code = 1) AS over_voltage_fault,
            max(t.warning_level) FILTER (WHERE t.code = 2) AS under_voltage_warning,
            max(t.fault_level) FILTER (WHERE t.code = 2) AS under_voltage_fault,
            max(t.warning_level) FILTER (WHERE t.code = 3) AS imbalance_warning,
            max(t.fault_level) FILTER (WHERE t.code = 3) AS imbalance_fault,
            max(t.warning_level) FILTER (WHERE t.code = 4) AS charge_current_warning,
            max(t.fault_level) FILTER (WHERE t.code = 4) AS charge_current_fault,
            max(t.warning_level) FILTER (WHERE t.code = 5) AS discharge_current_warning,
            max(t.fault_level) FILTER (WHERE t.code = 5) AS discharge_current_fault,
            max(t.warning_level) FILTER (WHERE t.code = 6) AS over_temperature_warning,
            max(t.fault_level) FILTER (WHERE t.code = 6) AS over_temperature_fault,
            max(t.warning_level) FILTER (WHERE t.code = 7) AS under_temperature_warning,
            max(t.fault_level) FILTER (WHERE t.code = 7) AS under_temperature_fault,
            max(t.warning_level) FILTER (WHERE t.code = 8) AS temperature_gap_warning,
            max(t.fault_level) FILTER (WHERE t.code = 8) AS temperature_gap_fault
        FROM (
            SELECT DISTINCT ON (threshold.code)
                threshold.code,
                threshold.warning_level,
                threshold.fault_level
            FROM ess.protection_threshold AS threshold
            WHERE threshold.site_id = p_site OR threshold.site_id IS NULL
            ORDER BY threshold.code, threshold.site_id NULLS LAST
        ) AS t
    ),

    anomaly AS (
        SELECT a.*
        FROM ess.demo_anomaly AS a
        WHERE
            a.site_id = p_site AND a.bank_id = p_bank
            AND a.starts_at < p_to AND a.ends_at > p_from
    ),

    racks AS (
        SELECT
            r.rack_id::smallint AS rack_id,
            count(*) OVER () AS rack_count,
            (1 + 0.08 * (ess.demo_u(r.key, 1) - 0.5))
            / avg(1 + 0.08 * (ess.demo_u(r.key, 1) - 0.5)) OVER () AS share,
            1.6 * (ess.demo_u(r.key, 2) - 0.5) AS soc_offset,
            0.6 * (ess.demo_u(r.key, 3) - 0.5) AS voltage_offset,
            12 + 16 * ess.demo_u(r.key, 4) AS spread_mv,
            0.4 + 0.2 * ess.demo_u(r.key, 5) AS spread_split,
            0.8 * ess.demo_u(r.key, 6) AS temperature_offset,
            6 + 2 * ess.demo_u(r.key, 7) AS temperature_spread,
            0.005 + 0.015 * ess.demo_u(r.key, 8) AS soh_fade_per_day,
            0.3 * ess.demo_u(r.key, 9) AS soh_offset,
            0.5 + ess.demo_u(r.key, 10) AS module_max_offset,
            0.3 + 0.7 * ess.demo_u(r.key, 11) AS module_min_offset,
            4 * (ess.demo_u(r.key, 12) - 0.5) AS humidity_offset,
            1 + 2 * ess.demo_u(r.key, 13) AS humidity_spread,
            0.38 + 0.1 * ess.demo_u(r.key, 14) AS temperature_average_split,
            -- candidate cells (1..cells in series) and modules for the max and min readings
            ARRAY(
                SELECT 1 + floor(ess.demo_u(r.key, 20 + k) * profile.cells_in_series)
                FROM generate_series(0, 11) AS k
            ) AS cells,
            ARRAY(
                SELECT 1 + floor(ess.demo_u(r.key, 40 + k) * profile.modules_per_rack)
                FROM generate_series(0, 3) AS k
            ) AS modules,
            ess.demo_key(p_seed, p_site, p_bank, r.rack_id, 1) AS noise_key,
            ess.demo_key(p_seed, p_site, p_bank, r.rack_id, 2) AS position_key,
            ess.demo_key(p_seed, p_site, p_bank, r.rack_id, 3) AS spread_key,
            weak.starts_at AS weak_starts_at,
            weak.ends_at AS weak_ends_at,
            weak.cell_position AS weak_cell,
            weak.peak AS weak_sag_per_day,
            hot.starts_at AS hot_starts_at,
            hot.ends_at AS hot_ends_at,
            hot.cell_position AS hot_cell,
            hot.peak AS hot_peak,
            imbalance.starts_at AS imbalance_starts_at,
            imbalance.ends_at AS imbalance_ends_at,
            imbalance.cell_position AS imbalance_cell,
            1 + (imbalance.cell_position + profile.cells_in_series / 2 - 1)
            % profile.cells_in_series AS imbalance_high_cell,
            imbalance.peak AS imbalance_peak,
            (
                SELECT jsonb_object_agg('module' || m, 0)
                FROM generate_series(1, profile.modules_per_rack) AS m
            ) AS module_fault_map
        FROM profile
        CROSS JOIN LATERAL (
            SELECT
                rack_number AS rack_id,
                ess.demo_key(p_seed, p_site, p_bank, rack_number, 0) AS key
            FROM generate_series(
                1,
                (
                    SELECT bank.rack_count FROM ess.site_bank AS bank
                    WHERE bank.site_id = p_site AND bank.bank_id = p_bank
                )
            ) AS rack_number
        ) AS r
        LEFT JOIN LATERAL (
            SELECT * FROM anomaly
            WHERE anomaly.rack_id = r.rack_id AND anomaly.kind = 'weak_cell'
            ORDER BY anomaly.starts_at LIMIT 1
        ) AS weak ON TRUE
        LEFT JOIN LATERAL (
            SELECT * FROM anomaly
            WHERE anomaly.rack_id = r.rack_id AND anomaly.kind = 'over_temperature'
            ORDER BY anomaly.starts_at LIMIT 1
        ) AS hot ON TRUE
        LEFT JOIN LATERAL (
            SELECT * FROM anomaly
            WHERE anomaly.rack_id = r.rack_id AND anomaly.kind = 'voltage_imbalance'
            ORDER BY anomaly.starts_at LIMIT 1
        ) AS imbalance ON TRUE
    ),

    -- a discharge over-current: one rack takes a larger share of the bank current (the others
    -- take less, the bank total is unchanged) and peaks at the anomaly's current
    surge AS (
        SELECT
            anomaly.rack_id AS surge_rack,
            anomaly.starts_at AS surge_starts_at,
            anomaly.ends_at AS surge_ends_at,
            anomaly.peak AS surge_peak,
            racks.share AS surge_share,
            racks.rack_count
        FROM anomaly
        INNER JOIN racks ON anomaly.rack_id = racks.rack_id
        WHERE anomaly.kind = 'discharge_over_current'
        ORDER BY anomaly.starts_at
        LIMIT 1
    ),

    ticks AS (
        SELECT
            state.*,
            surge.surge_rack,
            state.rack_current * surge.surge_share * (1 - bump.b) + surge.surge_peak * bump.b
            AS surge_current,
            CASE
                WHEN bump.b > 0 AND surge.rack_count > 1 AND abs(state.rack_current) > 1
                    THEN (
                        surge.rack_count * state.rack_current
                        - state.rack_current * surge.surge_share * (1 - bump.b)
                        - surge.surge_peak * bump.b
                    ) / (state.rack_current * (surge.rack_count - surge.surge_share))
                ELSE 1.0
            END AS others_scale
        FROM ess.demo_site_state(p_site, p_from, p_to, p_step, p_seed) AS state
        LEFT JOIN surge ON TRUE
        CROSS JOIN LATERAL (
            SELECT ess.demo_bump(state.ts, surge.surge_starts_at, surge.surge_ends_at) AS b
        ) AS bump
        WHERE NOT state.bms_missing
        OFFSET 0
    ),

    -- measured current and voltage, the cell spread, the temperatures before any anomaly
    measured AS (
        SELECT
            t.ts,
            t.epoch,
            t.day_number,
            t.true_soc,
            t.soc,
            t.heat,
            t.hvac,
            t.humidity,
            r.*,
            ess.demo_round(CASE
                        WHEN r.rack_id = t.surge_rack THEN t.surge_current
                        ELSE t.rack_current * r.share * t.others_scale
                    END
                    + 0.4 * (ess.demo_u(r.noise_key, t.epoch * 8) - 0.5), 10) AS current_a,
            ess.demo_round(profile.cells_in_series * t.cell_voltage + r.voltage_offset
                    + 0.2 * (ess.demo_u(r.noise_key, t.epoch * 8 + 1) - 0.5), 10) AS voltage,
            ess.demo_u(r.position_key, t.epoch / 900) AS voltage_draw,
            ess.demo_u(r.position_key, -(t.epoch / 1200)) AS temperature_draw,
            ess.demo_smooth(r.spread_key, t.epoch, 600) AS spread_wander,
            0.2 * (ess.demo_u(r.noise_key, t.epoch * 8 + 2) - 0.5) AS temperature_noise,
            t.hvac + r.temperature_offset + 0.7 * t.heat AS coolest,
            r.temperature_spread + 0.22 * t.heat AS spread_c,
            ess.demo_bump(t.ts, r.hot_starts_at, r.hot_ends_at) AS hot_b,
            ess.demo_bump(t.ts, r.imbalance_starts_at, r.imbalance_ends_at) AS imbalance_b,
            CASE
                WHEN t.ts >= r.weak_starts_at AND t.ts < r.weak_ends_at
                    THEN least(
                        0.15,
                        0.015 + r.weak_sag_per_day
                        * date_part('epoch', t.ts - r.weak_starts_at) / 86400
                    )
                ELSE 0.0
            END AS weak_base_sag,
            profile.cells_in_series,
            profile.cells_per_module,
            profile.soh_fades,
            profile.commissioned_day
        FROM ticks AS t
        CROSS JOIN racks AS r
        CROSS JOIN profile
        OFFSET 0
    ),

    spread AS (
        SELECT
            m.*,
            m.voltage / m.cells_in_series AS cell_average,
            (
                m.spread_mv + 14 * abs(m.current_a) / 60
                + 20 * greatest(0, (8 - m.true_soc) / 8) + 6 * (m.spread_wander - 0.5)
            ) / 1000 AS gap_normal,
            -- a weak cell sags more under load and near empty
            m.weak_base_sag * (
                1 + 0.6 * abs(m.current_a) / 60 + 0.6 * greatest(0, (8 - m.true_soc) / 8)
            ) AS sag,
            m.coolest + m.temperature_noise + m.spread_c AS hottest_normal
        FROM measured AS m
        OFFSET 0
    ),

    shifted AS (
        SELECT
            s.*,
            s.cell_average + s.gap_normal * s.spread_split AS high_normal,
            s.cell_average - s.gap_normal * (1 - s.spread_split) - s.sag AS low_normal,
            -- an imbalance widens the gap to its peak, taken from the low cell while it stays
            -- above 3.25 V and from the high cell beyond that
            greatest(0, coalesce(s.imbalance_peak, 0) - s.gap_normal - s.sag) * s.imbalance_b
            AS imbalance_extra,
            greatest(0, coalesce(s.hot_peak, 0) - s.hottest_normal) * s.hot_b AS hot_extra
        FROM spread AS s
        OFFSET 0
    ),

    valued AS (
        SELECT
            x.*,
            least(x.imbalance_extra, greatest(0, x.low_normal - 3.25)) AS imbalance_low,
            ess.demo_round(x.cell_average, 1000) AS average_v,
            ess.demo_round(x.coolest + x.temperature_noise / 2 + 0.6 * x.hot_extra, 10)
            AS coolest_c,
            ess.demo_round(x.hottest_normal + x.hot_extra, 10) AS hottest_c
        FROM shifted AS x
        OFFSET 0
    ),

    finished AS (
        SELECT
            v.*,
            ess.demo_round(v.high_normal + v.imbalance_extra - v.imbalance_low, 1000) AS max_v,
            ess.demo_round(v.low_normal - v.imbalance_low, 1000) AS min_v,
            CASE
                WHEN v.imbalance_extra - v.imbalance_low > 0.0005 THEN v.imbalance_high_cell
                WHEN v.voltage_draw < 0.6 THEN v.cells[1]
                WHEN v.voltage_draw < 0.85 THEN v.cells[2]
                ELSE v.cells[3]
            END AS max_v_cell,
            CASE
                WHEN v.imbalance_low > 0.0005 THEN v.imbalance_cell
                WHEN v.weak_base_sag > 0 THEN v.weak_cell
                WHEN v.voltage_draw * 7 - floor(v.voltage_draw * 7) < 0.6 THEN v.cells[4]
                WHEN v.voltage_draw * 7 - floor(v.voltage_draw * 7) < 0.85 THEN v.cells[5]
                ELSE v.cells[6]
            END AS min_v_cell,
            CASE
                WHEN v.hot_extra > 0.05 THEN v.hot_cell
                WHEN v.temperature_draw < 0.6 THEN v.cells[7]
                WHEN v.temperature_draw < 0.85 THEN v.cells[8]
                ELSE v.cells[9]
            END AS max_t_cell,
            CASE
                WHEN v.temperature_draw * 7 - floor(v.temperature_draw * 7) < 0.6 THEN v.cells[10]
                WHEN v.temperature_draw * 7 - floor(v.temperature_draw * 7) < 0.85 THEN v.cells[11]
                ELSE v.cells[12]
            END AS min_t_cell,
            ess.demo_round(least(
                    90,
                    greatest(0, v.soc + v.soc_offset * least(1, least(v.soc, 90 - v.soc) / 10))
                ), 10) AS soc_r,
            CASE
                WHEN v.soh_fades
                    THEN ess.demo_round(least(
                            100,
                            100 - v.soh_offset
                            - v.soh_fade_per_day * (v.day_number - v.commissioned_day)
                            + 0.2 * (ess.demo_u(v.noise_key, -v.day_number) - 0.5)
                        ), 10)
                ELSE 100.0
            END AS soh_r,
            v.humidity + v.humidity_offset
            + 0.4 * (ess.demo_u(v.noise_key, v.epoch * 8 + 3) - 0.5) AS humidity_r
        FROM valued AS v
        OFFSET 0
    ),

    flagged AS (
        SELECT
            f.*,
            ess.demo_round(f.max_v - f.min_v, 1000) AS gap_v,
            ess.demo_round(f.hottest_c - f.coolest_c, 10) AS gap_c,
            coalesce((f.max_v > limits.over_voltage_warning)::integer, 0) AS ov_w,
            coalesce((f.max_v > limits.over_voltage_fault)::integer, 0) AS ov_f,
            coalesce((f.min_v < limits.under_voltage_warning)::integer, 0) AS uv_w,
            coalesce((f.min_v < limits.under_voltage_fault)::integer, 0) AS uv_f,
            coalesce(
                (ess.demo_round(f.max_v - f.min_v, 1000) > limits.imbalance_warning)::integer, 0
            ) AS vi_w,
            coalesce(
                (ess.demo_round(f.max_v - f.min_v, 1000) > limits.imbalance_fault)::integer, 0
            ) AS vi_f,
            coalesce((f.current_a > limits.charge_current_warning)::integer, 0) AS cc_w,
            coalesce((f.current_a > limits.charge_current_fault)::integer, 0) AS cc_f,
            coalesce((-f.current_a > limits.discharge_current_warning)::integer, 0) AS dc_w,
            coalesce((-f.current_a > limits.discharge_current_fault)::integer, 0) AS dc_f,
            coalesce((f.hottest_c > limits.over_temperature_warning)::integer, 0) AS ot_w,
            coalesce((f.hottest_c > limits.over_temperature_fault)::integer, 0) AS ot_f,
            coalesce((f.coolest_c < limits.under_temperature_warning)::integer, 0) AS ut_w,
            coalesce((f.coolest_c < limits.under_temperature_fault)::integer, 0) AS ut_f,
            coalesce(
                (ess.demo_round(f.hottest_c - f.coolest_c, 10) > limits.temperature_gap_warning)
                ::integer,
                0
            ) AS tg_w,
            coalesce(
                (ess.demo_round(f.hottest_c - f.coolest_c, 10) > limits.temperature_gap_fault)
                ::integer,
                0
            ) AS tg_f
        FROM finished AS f
        CROSS JOIN limits
        OFFSET 0
    )

    SELECT
        g.ts,
        p_site,
        p_bank,
        g.rack_id,
        g.soc_r,
        g.soh_r,
        g.voltage,
        g.current_a,
        g.max_v,
        g.max_v_cell,
        g.min_v,
        g.min_v_cell,
        g.gap_v,
        g.average_v,
        g.hottest_c,
        g.max_t_cell,
        g.coolest_c,
        g.min_t_cell,
        g.gap_c,
        1::smallint,
        1::smallint,
        (abs(g.current_a) < 1 AND g.soc_r > 50 AND g.gap_v >= 0.02)::integer::smallint,
        (g.current_a < -0.5)::integer::smallint,
        (g.current_a > 0.5)::integer::smallint,
        1::smallint,
        greatest(g.ov_f, g.uv_f, g.vi_f, g.cc_f, g.dc_f, g.ot_f, g.ut_f, g.tg_f)::smallint,
        greatest(g.ov_w, g.uv_w, g.vi_w, g.cc_w, g.dc_w, g.ot_w, g.ut_w, g.tg_w)::smallint,
        g.tg_w::smallint,
        g.ut_w::smallint,
        g.ot_w::smallint,
        g.vi_w::smallint,
        g.uv_w::smallint,
        g.ov_w::smallint,
        g.cc_w::smallint,
        g.dc_w::smallint,
        g.tg_f::smallint,
        g.ut_f::smallint,
        g.ot_f::smallint,
        g.vi_f::smallint,
        g.uv_f::smallint,
        g.ov_f::smallint,
        g.cc_f::smallint,
        g.dc_f::smallint,
        ess.demo_round(g.coolest_c + g.temperature_average_split * g.gap_c, 10),
        ess.demo_round(g.hottest_c - g.module_max_offset, 10),
        floor((g.max_t_cell - 1) / g.cells_per_module) + 1,
        ess.demo_round(g.coolest_c + g.module_min_offset, 10),
        floor((g.min_t_cell - 1) / g.cells_per_module) + 1,
        ess.demo_round(g.humidity_r + g.humidity_spread, 10),
        g.modules[1 + (g.voltage_draw * 13)::integer % 2],
        ess.demo_round(g.humidity_r - g.humidity_spread, 10),
        g.modules[3 + (g.temperature_draw * 13)::integer % 2],
        1::smallint,
        g.vi_w::smallint,
        -- the module holding the cell behind a fault reports it
        CASE
            WHEN g.ot_f = 1
                THEN g.module_fault_map
                || jsonb_build_object('module' || ((g.hot_cell - 1) / g.cells_per_module + 1), 1)
            WHEN g.vi_f = 1
                THEN g.module_fault_map || jsonb_build_object(
                    'module' || (floor((g.min_v_cell - 1) / g.cells_per_module)::integer + 1), 1
                )
            ELSE g.module_fault_map
        END
    FROM flagged AS g
$$;

-- Bank rows, aggregated from the bank's rack rows already stored: the bank reports the seconds
-- its racks report, SoC/SoH/voltage as the mean of its racks, current as their sum, extremes as
-- the extremes, and every rack flag as "any rack". (p_step and p_seed are unused: the signature
-- is the one all four generators share.)
DROP FUNCTION IF EXISTS ess.demo_bank_rows(
    smallint, smallint, timestamptz, timestamptz, interval, bigint
);
CREATE OR REPLACE FUNCTION ess.demo_bank_rows(
    p_site smallint,
    p_bank smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS TABLE (
    ts timestamptz,
    site_id smallint,
    bank_id smallint,
    bank_soc double precision,
    bank_soh double precision,
    bank_dc_volt double precision,
    bank_dc_current double precision,
    max_cell_voltage_of_bank double precision,
    min_cell_voltage_of_bank double precision,
    max_cell_temperature_of_bank double precision,
    min_cell_temperature_of_bank double precision,
    bank_power double precision,
    rack_temperature_imbalance_warning smallint,
    rack_under_temperature_warning smallint,
    rack_over_temperature_warning smallint,
    rack_voltage_imbalance_warning smallint,
    rack_under_voltage_protection_warning smallint,
    rack_over_voltage_protection_warning smallint,
    rack_over_current_charge_warning smallint,
    rack_over_current_discharge_warning smallint,
    rack_temperature_imbalance_fault smallint,
    rack_under_temperature_fault smallint,
    rack_over_temperature_fault smallint,
    rack_voltage_imbalance_fault smallint,
    rack_under_voltage_protection_fault smallint,
    rack_over_voltage_protection_fault smallint,
    rack_over_current_charge_fault smallint,
    rack_over_current_discharge_fault smallint,
    battery_status_for_run smallint,
    battery_status_for_charge smallint,
    battery_status_for_fault smallint,
    battery_status_for_warning smallint,
    master_rack_communication_fault jsonb,
    max_module_temperature double precision,
    min_module_temperature double precision,
    max_module_humidity double precision,
    min_module_humidity double precision,
    rack_tray_voltage_imbalance_warning smallint,
    battery_status_for_standby smallint,
    battery_status_for_discharge smallint,
    rack_to_master_bms_communication_status smallint,
    charging_stop_of_status smallint,
    discharging_stop_of_status smallint,
    order_source smallint
)
LANGUAGE sql
STABLE
AS $$
    WITH communication AS (
        -- {"rack1": 0, ...} where the site reports a map, a plain 0 where it reports a flag
        SELECT
            CASE
                WHEN (
                    SELECT c.value_type FROM ess.site_column AS c
                    WHERE
                        c.site_id = p_site AND c.component = 'bank'
                        AND c.column_name = 'master_rack_communication_fault'
                ) = 'json'
                    THEN (
                        SELECT jsonb_object_agg('rack' || r, 0)
                        FROM generate_series(1, bank.rack_count) AS r
                    )
                ELSE '0'::jsonb
            END AS fault_map
        FROM ess.site_bank AS bank
        WHERE bank.site_id = p_site AND bank.bank_id = p_bank
    ),

    racks AS (
        SELECT
            rack.ts,
            ess.demo_round(avg(rack.rack_soc), 10) AS soc,
            ess.demo_round(avg(rack.rack_soh), 10) AS soh,
            ess.demo_round(avg(rack.rack_voltage), 10) AS voltage,
            ess.demo_round(sum(rack.rack_current), 10) AS current_a,
            max(rack.rack_max_cell_voltage) AS max_v,
            min(rack.rack_min_cell_voltage) AS min_v,
            max(rack.rack_max_cell_temperature) AS max_t,
            min(rack.rack_min_cell_temperature) AS min_t,
            max(rack.rack_max_module_temperature) AS max_module_t,
            min(rack.rack_min_module_temperature) AS min_module_t,
            max(rack.rack_max_module_humidity) AS max_module_h,
            min(rack.rack_min_module_humidity) AS min_module_h,
            max(rack.rack_temperature_imbalance_warning) AS tg_w,
            max(rack.rack_under_temperature_warning) AS ut_w,
            max(rack.rack_over_temperature_warning) AS ot_w,
            max(rack.rack_voltage_imbalance_warning) AS vi_w,
            max(rack.rack_under_voltage_protection_warning) AS uv_w,
            max(rack.rack_over_voltage_protection_warning) AS ov_w,
            max(rack.rack_over_current_charge_warning) AS cc_w,
            max(rack.rack_over_current_discharge_warning) AS dc_w,
            max(rack.rack_temperature_imbalance_fault) AS tg_f,
            max(rack.rack_under_temperature_fault) AS ut_f,
            max(rack.rack_over_temperature_fault) AS ot_f,
            max(rack.rack_voltage_imbalance_fault) AS vi_f,
            max(rack.rack_under_voltage_protection_fault) AS uv_f,
            max(rack.rack_over_voltage_protection_fault) AS ov_f,
            max(rack.rack_over_current_charge_fault) AS cc_f,
            max(rack.rack_over_current_discharge_fault) AS dc_f,
            max(rack.rack_status_for_fault) AS any_fault,
            max(rack.rack_status_for_warning) AS any_warning,
            max(rack.rack_tray_volatge_imbalance_warning) AS tray_w
        FROM ess.rack AS rack
        WHERE
            rack.site_id = p_site AND rack.bank_id = p_bank
            AND rack.ts >= p_from AND rack.ts < p_to
        GROUP BY rack.ts
    )

    SELECT
        racks.ts,
        p_site,
        p_bank,
        racks.soc,
        racks.soh,
        racks.voltage,
        racks.current_a,
        racks.max_v,
        racks.min_v,
        racks.max_t,
        racks.min_t,
        ess.demo_round(racks.voltage * racks.current_a / 1000, 10),
        racks.tg_w,
        racks.ut_w,
        racks.ot_w,
        racks.vi_w,
        racks.uv_w,
        racks.ov_w,
        racks.cc_w,
        racks.dc_w,
        racks.tg_f,
        racks.ut_f,
        racks.ot_f,
        racks.vi_f,
        racks.uv_f,
        racks.ov_f,
        racks.cc_f,
        racks.dc_f,
        (abs(racks.current_a) >= 2)::integer::smallint,
        (racks.current_a >= 2)::integer::smallint,
        racks.any_fault,
        racks.any_warning,
        communication.fault_map,
        racks.max_module_t,
        racks.min_module_t,
        racks.max_module_h,
        racks.min_module_h,
        coalesce(racks.tray_w, racks.vi_w),
        (abs(racks.current_a) < 2)::integer::smallint,
        (racks.current_a <= -2)::integer::smallint,
        1::smallint,
        (racks.soc >= 89.5 OR racks.any_fault = 1)::integer::smallint,
        (racks.soc <= 0.5 OR racks.any_fault = 1)::integer::smallint,
        1::smallint
    FROM racks
    CROSS JOIN communication
$$;

-- PCS rows: one per site and second, from the site state (the sum over the banks' racks), in
-- the columns of every vendor; ess.demo_insert keeps the ones the site reports. Signs follow the
-- BMS: positive while charging. AC power is the DC power over (charging) or times (discharging)
-- an efficiency of 97.5 %; the grid is 380 V, 60 Hz; energy counters are kWh since
-- commissioning, split into 16-bit high and low words where the vendor does so.
DROP FUNCTION IF EXISTS ess.demo_pcs_rows(
    smallint, smallint, timestamptz, timestamptz, interval, bigint
);
CREATE OR REPLACE FUNCTION ess.demo_pcs_rows(
    p_site smallint,
    p_bank smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS TABLE (
    ts timestamptz,
    site_id smallint,
    bank_id smallint,
    -- site 1's vendor
    pcs_ac_l1_thd double precision,
    pcs_ac_l2_thd double precision,
    pcs_ac_l3_thd double precision,
    system_temperature_max double precision,
    dc_voltage_1 double precision,
    dc_voltage_2 double precision,
    dc_current double precision,
    dc_power double precision,
    ac_frequency double precision,
    ac_voltage double precision,
    ac_current_low double precision,
    ac_current_high double precision,
    ac_power double precision,
    ac_active_power double precision,
    ac_reactive_power double precision,
    ac_power_factor double precision,
    ac_l1_voltage double precision,
    ac_l1_current double precision,
    ac_l2_voltage double precision,
    ac_l2_current double precision,
    ac_l3_voltage double precision,
    ac_l3_current double precision,
    ac_accumulated_discharge_energy_low double precision,
    ac_accumulated_discharge_energy_high double precision,
    ac_accumulated_charge_energy_low double precision,
    ac_accumulated_charge_energy_high double precision,
    pcs_status_0 double precision,
    pcs_status_1 double precision,
    pcs_status_2 double precision,
    pcs_status_3 double precision,
    pcs_status_4 double precision,
    pcs_status_5 double precision,
    pcs_status_6 double precision,
    pcs_status_7 double precision,
    pcs_status_8 double precision,
    pcs_status_9 double precision,
    pcs_status_10 double precision,
    pcs_status_11 double precision,
    pcs_status_14 double precision,
    pcs_status_15 double precision,
    pcs_control_0 double precision,
    set_power double precision,
    set_soc_low_trip_level double precision,
    set_soc_high_trip_level double precision,
    set_vbat_low_trip_level double precision,
    set_vbat_high_trip_level double precision,
    -- site 2's vendor
    ai_vdc double precision,
    ai_idc double precision,
    ai_pdc double precision,
    ai_freq double precision,
    ai_vab_rms double precision,
    ai_vbc_rms double precision,
    ai_vca_rms double precision,
    ai_ias_rms double precision,
    ai_ibs_rms double precision,
    ai_ics_rms double precision,
    ai_sac double precision,
    ai_pac double precision,
    ai_qac double precision,
    ai_pf double precision,
    ai_c_kwh_ach double precision,
    ai_c_kwh_acl double precision,
    ai_d_kwh_ach double precision,
    ai_d_kwh_acl double precision,
    ai_c_kwh_dch double precision,
    ai_c_kwh_dcl double precision,
    ai_d_kwh_dch double precision,
    ai_d_kwh_dcl double precision,
    cmd_kw double precision,
    cmd_kvar double precision,
    cmd_vdc_ref double precision,
    st_run double precision,
    st_stop double precision,
    st_ready double precision,
    st_mode_l_r double precision,
    st_mode_cv double precision,
    st_fault double precision,
    st_charge double precision,
    st_discharge double precision,
    di_dk double precision,
    di_ak double precision,
    di_ck double precision,
    di_temp double precision,
    di_spd double precision,
    di_ds double precision,
    di_start double precision,
    di_es double precision,
    -- site 3's vendor
    voltage double precision,
    current double precision,
    power double precision,
    ac_vu double precision,
    ac_vv double precision,
    ac_vw double precision,
    ac_iu double precision,
    ac_iv double precision,
    ac_iw double precision,
    ac_freq double precision,
    dc_v double precision,
    c_kwh double precision,
    power_setting double precision,
    max_voltage double precision,
    min_voltage double precision,
    ci_setting double precision,
    di_setting double precision,
    lqe_ref double precision,
    vdc_ref double precision,
    d_kwh double precision,
    pf double precision,
    state_of_pcs smallint
)
LANGUAGE sql
STABLE
AS $$
    WITH profile AS (
        SELECT * FROM ess.demo_site_profile(p_site)
    ),

    dc AS (
        SELECT
            state.ts,
            state.epoch,
            state.operating_mode,
            state.hvac,
            profile.cells_in_series,
            profile.rack_total,
            profile.first_bank,
            state.operating_mode > 0 AS running,
            ess.demo_round(profile.cells_in_series * state.cell_voltage, 10) AS volts,
            ess.demo_round(profile.rack_total * state.rack_current, 10) AS amps,
            profile.cells_in_series * state.cell_voltage * profile.rack_total
            * state.rack_current / 1000 AS dc_kw,
            ess.demo_round(
                profile.cells_in_series * state.cell_voltage * profile.rack_total
                * state.setpoint_current / 1000,
                1
            ) AS setpoint_kw,
            -- the PCS is rated 65 kW per rack
            65.0 * profile.rack_total AS rated_kw,
            state.charged_kwh * profile.rack_total AS charged_dc_kwh,
            state.discharged_kwh * profile.rack_total AS discharged_dc_kwh,
            ess.demo_key(p_seed, p_site, 0, 0, 20) AS noise_key
        FROM ess.demo_site_state(p_site, p_from, p_to, p_step, p_seed) AS state
        CROSS JOIN profile
        WHERE NOT state.pcs_missing
    ),

    ac AS (
        SELECT
            dc.*,
            CASE WHEN dc.dc_kw > 0 THEN dc.dc_kw / 0.975 ELSE dc.dc_kw * 0.975 END AS ac_kw,
            CASE
                WHEN dc.running THEN 6 * (ess.demo_smooth(dc.noise_key, dc.epoch, 120) - 0.5)
                ELSE 0.0
            END AS ac_kvar,
            380 + 4 * (ess.demo_smooth(dc.noise_key, -dc.epoch, 600) - 0.5) AS line_v,
            60 + 0.06 * (ess.demo_smooth(dc.noise_key, dc.epoch + 7919, 30) - 0.5) AS hz,
            floor(dc.charged_dc_kwh / 0.975) AS charged_ac,
            floor(dc.discharged_dc_kwh * 0.975) AS discharged_ac,
            floor(dc.charged_dc_kwh) AS charged_dc,
            floor(dc.discharged_dc_kwh) AS discharged_dc
        FROM dc
    ),

    apparent AS (
        SELECT
            ac.*,
            sqrt(ac.ac_kw ^ 2 + ac.ac_kvar ^ 2) AS ac_kva,
            sqrt(ac.ac_kw ^ 2 + ac.ac_kvar ^ 2) * 1000 / (sqrt(3) * ac.line_v) AS line_a,
            CASE
                WHEN ac.running
                    THEN 1.8 + 1.5 * (1 - least(1, abs(ac.ac_kw) / ac.rated_kw))
                ELSE 0.0
            END AS thd,
            ess.demo_u(ac.noise_key, ac.epoch) - 0.5 AS jitter
        FROM ac
    ),

    pcs AS (
        SELECT
            a.*,
            ess.demo_round(a.ac_kw, 10) AS p_kw,
            ess.demo_round(a.ac_kvar, 10) AS q_kvar,
            ess.demo_round(a.ac_kva, 10) AS s_kva,
            CASE WHEN a.ac_kva > 1 THEN ess.demo_round(abs(a.ac_kw) / a.ac_kva, 1000) ELSE 0.0 END
            AS power_factor,
            ess.demo_round(a.line_v, 10) AS v_ab,
            ess.demo_round(a.line_v + 0.8 + a.jitter * 0.4, 10) AS v_bc,
            ess.demo_round(a.line_v - 0.6 - a.jitter * 0.4, 10) AS v_ca,
            ess.demo_round(a.line_a, 10) AS i_a,
            ess.demo_round(a.line_a * 1.006, 10) AS i_b,
            ess.demo_round(a.line_a * 0.995, 10) AS i_c,
            ess.demo_round(a.hz, 100) AS freq,
            (a.operating_mode = 1)::integer AS charging,
            (a.operating_mode = 2)::integer AS discharging,
            a.running::integer AS run
        FROM apparent AS a
    )

    SELECT
        pcs.ts,
        p_site,
        pcs.first_bank,
        ess.demo_round(pcs.thd * (1 + pcs.jitter * 0.1), 100),
        ess.demo_round(pcs.thd * (1.05 - pcs.jitter * 0.1), 100),
        ess.demo_round(pcs.thd * (0.95 + pcs.jitter * 0.05), 100),
        -- the PCS cabinet warms with its load
        ess.demo_round(
            pcs.hvac + 8 + 14 * abs(pcs.setpoint_kw) / pcs.rated_kw + pcs.jitter * 0.2, 10
        ),
        pcs.volts,
        ess.demo_round(pcs.volts + 0.3 + pcs.jitter * 0.2, 10),
        pcs.amps,
        ess.demo_round(pcs.dc_kw, 10),
        pcs.freq,
        pcs.v_ab,
        pcs.i_a - floor(pcs.i_a / 65536) * 65536,
        floor(pcs.i_a / 65536),
        pcs.p_kw,
        pcs.p_kw,
        pcs.q_kvar,
        pcs.power_factor,
        pcs.v_ab,
        pcs.i_a,
        pcs.v_bc,
        pcs.i_b,
        pcs.v_ca,
        pcs.i_c,
        pcs.discharged_ac - floor(pcs.discharged_ac / 65536) * 65536,
        floor(pcs.discharged_ac / 65536),
        pcs.charged_ac - floor(pcs.charged_ac / 65536) * 65536,
        floor(pcs.charged_ac / 65536),
        -- status bits: 0 ready, 1 run, 2 charge, 3 discharge, 4 standby, 5 grid connected,
        -- 6 fault, 7 warning, 8 remote, 9 AC breaker closed, 10 DC breaker closed, 11 derating
        1.0,
        pcs.run,
        pcs.charging,
        pcs.discharging,
        1 - pcs.run,
        1.0,
        0.0,
        0.0,
        1.0,
        1.0,
        1.0,
        0.0,
        0.0,
        0.0,
        1.0,
        pcs.setpoint_kw,
        0.0,
        90.0,
        round(pcs.cells_in_series * 3.0),
        round(pcs.cells_in_series * 4.1),
        pcs.volts,
        pcs.amps,
        ess.demo_round(pcs.dc_kw, 10),
        pcs.freq,
        pcs.v_ab,
        pcs.v_bc,
        pcs.v_ca,
        pcs.i_a,
        pcs.i_b,
        pcs.i_c,
        pcs.s_kva,
        pcs.p_kw,
        pcs.q_kvar,
        pcs.power_factor,
        floor(pcs.charged_ac / 65536),
        pcs.charged_ac - floor(pcs.charged_ac / 65536) * 65536,
        floor(pcs.discharged_ac / 65536),
        pcs.discharged_ac - floor(pcs.discharged_ac / 65536) * 65536,
        floor(pcs.charged_dc / 65536),
        pcs.charged_dc - floor(pcs.charged_dc / 65536) * 65536,
        floor(pcs.discharged_dc / 65536),
        pcs.discharged_dc - floor(pcs.discharged_dc / 65536) * 65536,
        pcs.setpoint_kw,
        0.0,
        round(pcs.cells_in_series * 4.0),
        pcs.run,
        1 - pcs.run,
        1.0,
        1.0,
        0.0,
        0.0,
        pcs.charging,
        pcs.discharging,
        1.0,
        1.0,
        1.0,
        0.0,
        0.0,
        0.0,
        pcs.run,
        0.0,
        pcs.volts,
        pcs.amps,
        ess.demo_round(pcs.dc_kw, 10),
        pcs.v_ab,
        pcs.v_bc,
        pcs.v_ca,
        pcs.i_a,
        pcs.i_b,
        pcs.i_c,
        pcs.freq,
        ess.demo_round(pcs.volts + 0.5 + pcs.jitter * 0.4, 10),
        pcs.charged_ac,
        pcs.setpoint_kw,
        round(pcs.cells_in_series * 4.1),
        round(pcs.cells_in_series * 3.0),
        80.0 * pcs.rack_total,
        80.0 * pcs.rack_total,
        0.0,
        round(pcs.cells_in_series * 4.0),
        pcs.discharged_ac,
        pcs.power_factor,
        -- 1 standby, 2 charging, 3 discharging
        (1 + pcs.operating_mode)::smallint
    FROM pcs
$$;

-- Environment sensors and meters: container air (two sensors), the PV inverter (site 1) or the
-- plant's grid meter (sites 2 and 3: PV output minus battery charging plus discharging, minus a
-- 4 kW auxiliary load; the exported-energy counter's high 16-bit word).
DROP FUNCTION IF EXISTS ess.demo_etc_rows(
    smallint, smallint, timestamptz, timestamptz, interval, bigint
);
CREATE OR REPLACE FUNCTION ess.demo_etc_rows(
    p_site smallint,
    p_bank smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS TABLE (
    ts timestamptz,
    site_id smallint,
    bank_id smallint,
    sensor1_temperature double precision,
    sensor1_humidity double precision,
    inv1_active_power double precision,
    inv1_cumluative_power_generation double precision,
    sensor2_temperature double precision,
    sensor2_humidity double precision,
    active_power_total double precision,
    active_energy_total_high double precision
)
LANGUAGE sql
STABLE
AS $$
    WITH profile AS (
        SELECT * FROM ess.demo_site_profile(p_site)
    ),

    meter AS (
        SELECT
            state.*,
            profile.first_bank,
            ess.demo_u(ess.demo_key(p_seed, p_site, 0, 0, 30), state.epoch) AS noise_1,
            ess.demo_u(ess.demo_key(p_seed, p_site, 0, 0, 31), state.epoch) AS noise_2,
            ess.demo_u(ess.demo_key(p_seed, p_site, 0, 0, 32), state.epoch) AS noise_3,
            ess.demo_u(ess.demo_key(p_seed, p_site, 0, 0, 33), state.epoch) AS noise_4,
            profile.cells_in_series * state.cell_voltage * profile.rack_total
            * state.rack_current / 1000 AS battery_kw,
            state.pv_kwh
            - (state.charged_kwh / 0.975 - state.discharged_kwh * 0.975) * profile.rack_total
            - 4 * state.service_hours AS exported_kwh
        FROM ess.demo_site_state(p_site, p_from, p_to, p_step, p_seed) AS state
        CROSS JOIN profile
        WHERE NOT state.etc_missing
    )

    SELECT
        meter.ts,
        p_site,
        meter.first_bank,
        ess.demo_round(meter.hvac + 0.6 + 0.3 * (meter.noise_1 - 0.5), 10),
        ess.demo_round(meter.humidity + 1.5 + (meter.noise_2 - 0.5), 10),
        ess.demo_round(meter.pv_kw, 10),
        floor(meter.pv_kwh),
        ess.demo_round(meter.hvac + 1.4 + 0.3 * (meter.noise_3 - 0.5), 10),
        ess.demo_round(meter.humidity - 2.0 + (meter.noise_4 - 0.5), 10),
        ess.demo_round(meter.pv_kw - CASE WHEN meter.battery_kw > 0 THEN meter.battery_kw / 0.975
                ELSE meter.battery_kw * 0.975 END - 4, 10),
        floor(greatest(meter.exported_kwh, 0) / 65536)
    FROM meter
$$;

-- Protection, fault, emergency and communication bits the demo never raises (no such faults
-- are injected): the generators leave them out and ess.demo_insert writes 0 in their place.
CREATE OR REPLACE FUNCTION ess.demo_fault_free_columns()
RETURNS TABLE (component text, column_pattern text)
LANGUAGE sql
IMMUTABLE
AS $$
    VALUES
    ('bank', '^rack_(charge_relay_plus|discharge_relay_minus|fuse_minus|fuse_plus)_fault_status$'),
    ('bank', '^rack_tray_rack_communication_fault$'),
    ('bank', '^rack_n[0-9]+_master_rack_communication_fault$'),
    ('bank', '^(emergency_status|tvoc_status|emergency_source)$'),
    ('rack', '^rack_(charge_relay_plus|discharge_relay_minus|fuse_minus|fuse_plus)_fault_status$'),
    ('rack', '^rack_tray_rack_communication_fault$'),
    ('pcs', '^pcs_protection_[0-9]+_[0-9]+$'),
    ('pcs', '^flt_[a-z]+$'),
    (
        'pcs',
        '^(gate_err_[abc]|e_stop_fault|overheat|dc_fuse_fault|init_fault|ac_fuse_open|imd_fault'
        || '|vbat_err|oc_bat|ov_vdc|uv_vdc|sft_unb_dc_link|eeprom_write_error|ov_source'
        || '|uv_source|seq_source|unb_source|inter_source|oc_l[abc]_fault|offset_l[ab]'
        || '|unb_current|freq_low|freq_high|pms_e_stop|overload|communication_error)$'
    )
$$;

-- How ess.demo_insert fills each column a site's catalog lists for a component: 'generated' (a
-- generator computes it), 'zero' (a fault bit the demo never raises) or 'null' (unknown to the
-- generator: a column a new site brought along; the demo leaves it empty).
CREATE OR REPLACE FUNCTION ess.demo_column_sources(p_site smallint)
RETURNS TABLE (component text, column_name text, ordinal smallint, source text)
LANGUAGE sql
STABLE
AS $$
    WITH generated AS (
        SELECT
            substring(proc.proname FROM '^demo_(.*)_rows$') AS component,
            arg.name AS column_name
        FROM pg_proc AS proc
        CROSS JOIN LATERAL unnest(proc.proargnames, proc.proargmodes) AS arg (name, mode)
        WHERE
            proc.pronamespace = 'ess'::regnamespace
            AND proc.proname
            IN ('demo_rack_rows', 'demo_bank_rows', 'demo_pcs_rows', 'demo_etc_rows')
            AND arg.mode = 't'
    ),

    listed AS (
        -- the series key first (it is not always listed), then the catalog's columns
        SELECT c.component, key_column AS column_name, 0::smallint AS ordinal
        FROM ess.component AS c
        CROSS JOIN LATERAL unnest(c.key_columns) AS key_column
        WHERE NOT EXISTS (
            SELECT FROM ess.site_column AS s
            WHERE s.site_id = p_site AND s.component = c.component AND s.column_name = key_column
        )
        UNION ALL
        SELECT s.component, s.column_name, s.ordinal
        FROM ess.site_column AS s
        WHERE s.site_id = p_site
    )

    SELECT
        listed.component,
        listed.column_name,
        listed.ordinal,
        CASE
            WHEN EXISTS (
                SELECT FROM generated AS g
                WHERE g.component = listed.component AND g.column_name = listed.column_name
            ) THEN 'generated'
            WHEN EXISTS (
                SELECT FROM ess.demo_fault_free_columns() AS z
                WHERE z.component = listed.component AND listed.column_name ~ z.column_pattern
            ) THEN 'zero'
            ELSE 'null'
        END
    FROM listed
$$;

-- Insert one component's generated rows for [p_from, p_to) into its hypertable, in the columns
-- the site's catalog lists; rows already present are kept (ON CONFLICT DO NOTHING). Returns the
-- number of rows inserted. p_bank is used by rack and bank only.
CREATE OR REPLACE FUNCTION ess.demo_insert(
    p_component text,
    p_site smallint,
    p_bank smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    target_columns text;
    source_columns text;
    inserted bigint;
BEGIN
    IF p_component NOT IN ('rack', 'bank', 'pcs', 'etc') THEN
        RAISE EXCEPTION 'unknown component %', p_component;
    END IF;
    SELECT
        string_agg(format('%I', s.column_name), ', ' ORDER BY s.ordinal),
        string_agg(
            CASE s.source
                WHEN 'generated' THEN format('g.%I', s.column_name)
                WHEN 'zero' THEN '0'
                ELSE 'NULL'
            END,
            ', ' ORDER BY s.ordinal
        )
    INTO target_columns, source_columns
    FROM ess.demo_column_sources(p_site) AS s
    WHERE s.component = p_component;
    EXECUTE format(
        'INSERT INTO ess.%I (ts, site_id, %s) SELECT g.ts, g.site_id, %s '
        'FROM ess.%I($1, $2, $3, $4, $5, $6) AS g ON CONFLICT DO NOTHING',
        p_component, target_columns, source_columns, 'demo_' || p_component || '_rows'
    ) USING p_site, p_bank, p_from, p_to, p_step, p_seed;
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted;
END;
$$;

-- Plan the anomalies of a demo window [p_start, p_end) into ess.demo_anomaly (the rack
-- generator reads them from there). The racks of the site are counted bank by bank from 0:
--   weak_cell              rack 1: one cell sags from the window's start to its end, 15 mV plus
--                          35 mV a day (at most 150 mV), more under load and near empty
--   voltage_imbalance      rack 2, 19:00-19:45 local: the cell voltage gap peaks at 0.56 V
--   discharge_over_current rack N-2, 20:15-20:35: the rack's current peaks at -135 A
--   over_temperature       rack N-1, 11:30-12:20: the hottest cell peaks at 57.5 C
-- (counted modulo the N racks of the site), each on the first local day of the window that
-- holds it entirely. Planning the same window again changes nothing; a longer window with the
-- same start extends the weak cell.
CREATE OR REPLACE FUNCTION ess.demo_plan_anomalies(
    p_site smallint,
    p_start timestamptz,
    p_end timestamptz,
    p_seed bigint
)
RETURNS SETOF ess.demo_anomaly
LANGUAGE sql
AS $$
    WITH profile AS (
        SELECT * FROM ess.demo_site_profile(p_site)
    ),

    racks AS (
        SELECT
            bank.bank_id,
            rack_number::smallint AS rack_id,
            row_number() OVER (ORDER BY bank.bank_id, rack_number) - 1 AS ordinal,
            count(*) OVER () AS rack_total
        FROM ess.site_bank AS bank
        CROSS JOIN LATERAL generate_series(1, bank.rack_count) AS rack_number
        WHERE bank.site_id = p_site
    ),

    kinds (kind, stream, rack_ordinal, local_start, local_end, peak) AS (
        VALUES
        ('weak_cell', 51, 1, NULL::time, NULL::time, 0.035::double precision),
        ('voltage_imbalance', 52, 2, TIME '19:00', TIME '19:45', 0.56),
        ('discharge_over_current', 53, -2, TIME '20:15', TIME '20:35', -135),
        ('over_temperature', 54, -1, TIME '11:30', TIME '12:20', 57.5)
    ),

    episodes AS (
        SELECT DISTINCT ON (kinds.kind)
            kinds.kind,
            kinds.stream,
            kinds.rack_ordinal,
            kinds.peak,
            coalesce((days.day + kinds.local_start) AT TIME ZONE profile.timezone, p_start)
            AS starts_at,
            coalesce((days.day + kinds.local_end) AT TIME ZONE profile.timezone, p_end) AS ends_at
        FROM kinds
        CROSS JOIN profile
        CROSS JOIN LATERAL (
            SELECT (p_start AT TIME ZONE profile.timezone)::date + k AS day
            FROM generate_series(
                0,
                (p_end AT TIME ZONE profile.timezone)::date
                - (p_start AT TIME ZONE profile.timezone)::date
            ) AS k
        ) AS days
        WHERE
            coalesce((days.day + kinds.local_start) AT TIME ZONE profile.timezone, p_start)
            >= p_start
            AND coalesce((days.day + kinds.local_end) AT TIME ZONE profile.timezone, p_end)
            <= p_end
        ORDER BY kinds.kind, days.day
    ),

    planned AS (
        SELECT
            episodes.*,
            racks.bank_id,
            racks.rack_id,
            CASE
                WHEN episodes.kind <> 'discharge_over_current'
                    THEN (
                        1 + floor(
                            ess.demo_u(
                                ess.demo_key(
                                    p_seed, p_site, racks.bank_id, racks.rack_id, episodes.stream
                                ),
                                0
                            ) * profile.cells_in_series
                        )
                    )::smallint
            END AS cell_position
        FROM episodes
        CROSS JOIN profile
        INNER JOIN racks
            ON racks.ordinal
            = ((episodes.rack_ordinal % racks.rack_total) + racks.rack_total) % racks.rack_total
    )

    INSERT INTO ess.demo_anomaly AS existing (
        site_id, bank_id, rack_id, kind, starts_at, ends_at, cell_position, peak, seed,
        description
    )
    SELECT
        p_site,
        planned.bank_id,
        planned.rack_id,
        planned.kind,
        planned.starts_at,
        planned.ends_at,
        planned.cell_position,
        planned.peak,
        p_seed,
        CASE planned.kind
            WHEN 'weak_cell' THEN format(
                'cell %s of bank %s rack %s sags 15 mV plus %s mV a day below its neighbours '
                '(at most 150 mV; more under load and near empty): the rack''s min cell voltage '
                'position stays %s and its cell voltage gap grows',
                planned.cell_position, planned.bank_id, planned.rack_id, planned.peak * 1000,
                planned.cell_position
            )
            WHEN 'voltage_imbalance' THEN format(
                'cell %s of bank %s rack %s drifts apart: the cell voltage gap rises to %s V and '
                'back, above the warning (0.3 V) and fault (0.5 V) levels',
                planned.cell_position, planned.bank_id, planned.rack_id, planned.peak
            )
            WHEN 'discharge_over_current' THEN format(
                'bank %s rack %s takes a larger share of the discharge (the other racks less): '
                'its current reaches %s A, beyond the 120 A fault level',
                planned.bank_id, planned.rack_id, planned.peak
            )
            ELSE format(
                'bank %s rack %s overheats around cell %s: the max cell temperature rises to %s C '
                'and back, above the warning (50 C) and fault (55 C) levels',
                planned.bank_id, planned.rack_id, planned.cell_position, planned.peak
            )
        END
    FROM planned
    ON CONFLICT (site_id, kind, starts_at) DO UPDATE
        SET ends_at = greatest(existing.ends_at, excluded.ends_at)
        WHERE existing.kind = 'weak_cell' AND excluded.ends_at > existing.ends_at
    RETURNING *
$$;

-- The first instant of the grid p_origin + k * p_step at or after t.
CREATE OR REPLACE FUNCTION ess.demo_grid(t timestamptz, p_origin timestamptz, p_step interval)
RETURNS timestamptz
LANGUAGE sql
IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_origin + ceil(
        date_part('epoch', t - p_origin) / date_part('epoch', p_step)
    ) * p_step
$$;

-- Generate one site's rows for [p_from, p_to): the rack rows of each bank, then the bank rows
-- (from the racks), then the PCS and environment rows. Plan the anomalies first
-- (ess.demo_plan_anomalies). One statement does it all: keep the slice short on the embedded
-- engine (a day at 10 s, an hour or two at 1 s), which blocks while a statement runs.
DROP FUNCTION IF EXISTS ess.demo_generate_slice(
    smallint, timestamptz, timestamptz, interval, bigint
);
CREATE OR REPLACE FUNCTION ess.demo_generate_slice(
    p_site smallint,
    p_from timestamptz,
    p_to timestamptz,
    p_step interval,
    p_seed bigint
)
RETURNS TABLE (component text, inserted bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    bank smallint;
    rack_rows bigint := 0;
    bank_rows bigint := 0;
BEGIN
    FOR bank IN
        SELECT b.bank_id FROM ess.site_bank AS b WHERE b.site_id = p_site ORDER BY b.bank_id
    LOOP
        rack_rows := rack_rows
            + ess.demo_insert('rack', p_site, bank, p_from, p_to, p_step, p_seed);
        bank_rows := bank_rows
            + ess.demo_insert('bank', p_site, bank, p_from, p_to, p_step, p_seed);
    END LOOP;
    RETURN QUERY VALUES
        ('rack', rack_rows),
        ('bank', bank_rows),
        ('pcs', ess.demo_insert('pcs', p_site, NULL, p_from, p_to, p_step, p_seed)),
        ('etc', ess.demo_insert('etc', p_site, NULL, p_from, p_to, p_step, p_seed));
END;
$$;

-- The chunks a demo run may compress once written: chunks of the four hypertables lying wholly
-- inside [p_from, p_to) and past their compression policy's horizon, i.e. the chunks the policy
-- would compress on a server (the embedded engine runs no policies). A long run at 1 s would
-- otherwise need about 0.8 kB per rack row (half of it the module fault map) instead of ~50 B.
CREATE OR REPLACE FUNCTION ess.demo_compressible_chunks(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (chunk text, hypertable text, range_start timestamptz, range_end timestamptz)
LANGUAGE sql
STABLE
AS $$
    SELECT
        format('%I.%I', c.chunk_schema, c.chunk_name),
        c.hypertable_name::text,
        c.range_start,
        c.range_end
    FROM timescaledb_information.chunks AS c
    INNER JOIN timescaledb_information.jobs AS j
        ON
            c.hypertable_schema = j.hypertable_schema
            AND c.hypertable_name = j.hypertable_name
            AND j.proc_name = 'policy_compression'
    WHERE
        c.hypertable_schema = 'ess'
        AND c.hypertable_name IN ('rack', 'bank', 'pcs', 'etc')
        AND NOT c.is_compressed
        AND c.range_start >= p_from
        AND c.range_end <= p_to
        AND c.range_end <= now() - (j.config ->> 'compress_after')::interval
    ORDER BY c.range_start, c.hypertable_name
$$;

-- Everything for one site and window from psql: plan the anomalies, then generate one local day
-- per statement. On a real server this is the whole job; on the embedded engine the call is one
-- long statement that blocks the engine, so `ess demo` calls the pieces itself.
DROP FUNCTION IF EXISTS ess.demo_generate(smallint, timestamptz, timestamptz, interval, bigint);
CREATE OR REPLACE FUNCTION ess.demo_generate(
    p_site smallint,
    p_start timestamptz,
    p_end timestamptz,
    p_step interval DEFAULT '1 second',
    p_seed bigint DEFAULT 1
)
RETURNS TABLE (component text, inserted bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    site_timezone text;
    local_day date;
    slice_from timestamptz;
    slice_to timestamptz;
    totals jsonb := '{"rack": 0, "bank": 0, "pcs": 0, "etc": 0}';
    slice record;
BEGIN
    SELECT s.timezone INTO site_timezone FROM ess.site AS s WHERE s.site_id = p_site;
    IF site_timezone IS NULL THEN
        RAISE EXCEPTION 'operating site % does not exist', p_site;
    END IF;
    PERFORM ess.demo_plan_anomalies(p_site, p_start, p_end, p_seed);
    FOR local_day IN
        SELECT d::date FROM generate_series(
            (p_start AT TIME ZONE site_timezone)::date,
            (p_end AT TIME ZONE site_timezone)::date,
            interval '1 day'
        ) AS d
    LOOP
        -- local midnights cut the window into days, on the p_step grid from p_start
        slice_from := greatest(
            p_start,
            ess.demo_grid(local_day::timestamp AT TIME ZONE site_timezone, p_start, p_step)
        );
        slice_to := least(
            p_end,
            ess.demo_grid((local_day + 1)::timestamp AT TIME ZONE site_timezone, p_start, p_step)
        );
        CONTINUE WHEN slice_from >= slice_to;
        FOR slice IN
            SELECT * FROM ess.demo_generate_slice(p_site, slice_from, slice_to, p_step, p_seed)
        LOOP
            totals := jsonb_set(
                totals,
                ARRAY[slice.component],
                to_jsonb((totals ->> slice.component)::bigint + slice.inserted)
            );
        END LOOP;
    END LOOP;
    RETURN QUERY SELECT t.key, t.value::bigint FROM jsonb_each_text(totals) AS t;
END;
$$;
