-- Data completeness: per local day and component, rows stored against rows expected at 1 Hz
-- (86,400 per series per day; 82,800 / 90,000 on a daylight-saving change day), with the
-- operators' flags: warning above 2 % missing, critical above 5 %.
--
--   SELECT * FROM ess.completeness(2, '2022-05-01', '2022-05-31');
--   SELECT * FROM ess.completeness(2, '2023-04-10', '2023-04-11', sample_interval => '10 s');
--
-- Both dates are included. A series is a rack, a bank, the PCS or the etc meter set (a component
-- counts only if the site reports columns for it). Expected rows cover only the part of a day in
-- which the site operates and which has passed: from data_since (if set) to retired_on (if set)
-- and to now(), so today is judged on its elapsed seconds and future days are not listed.
-- Rows are counted from the coarsest continuous aggregate whose buckets nest in the site's local
-- days (ess.rack_1d at UTC+09:00, the 1 h or 1 min level in other zones).
-- Rows stored per local day of one component of a site, counted from the coarsest continuous
-- aggregate whose grid holds every local midnight of the window.
CREATE OR REPLACE FUNCTION ess.stored_rows_per_day(
    site integer, component text, start_date date, end_date date
) RETURNS TABLE (day date, rows_stored bigint)
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    site_timezone text;
    level_relation text;
BEGIN
    SELECT s.timezone INTO STRICT site_timezone FROM ess.site AS s WHERE s.site_id = site;
    SELECT level.relation INTO level_relation
    FROM ess.aggregate_level AS level
    WHERE
        level.component = stored_rows_per_day.component
        AND level.real_time
        AND 'n_rows' = ANY(level.column_names)
        AND ess.aggregate_fits(
            level.bucket_width,
            level.bucket_origin,
            interval '1 day',
            start_date::timestamp AT TIME ZONE site_timezone,
            (end_date + 1)::timestamp AT TIME ZONE site_timezone,
            site_timezone
        )
    ORDER BY level.bucket_width DESC
    LIMIT 1;
    IF level_relation IS NULL THEN
        RAISE EXCEPTION 'no continuous aggregate of % has buckets nesting in local days of %',
            component, site_timezone;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT (bucket AT TIME ZONE $4)::date, sum(n_rows)::bigint FROM ess.%I '
        'WHERE site_id = $1 AND bucket >= $2 AND bucket < $3 GROUP BY 1',
        level_relation
    ) USING
        site,
        start_date::timestamp AT TIME ZONE site_timezone,
        (end_date + 1)::timestamp AT TIME ZONE site_timezone,
        site_timezone;
END;
$$;

-- signatures of earlier versions (site smallint, no sample_interval): overloads with defaults
-- would make calls ambiguous
DROP FUNCTION IF EXISTS ess.completeness(smallint, date, date, double precision, double precision);
DROP FUNCTION IF EXISTS ess.completeness(
    smallint, date, date, interval, double precision, double precision
);
DROP FUNCTION IF EXISTS ess.stored_rows_per_day(smallint, text, date, date);

CREATE OR REPLACE FUNCTION ess.completeness(
    site integer,
    start_date date,
    end_date date,
    sample_interval interval DEFAULT interval '1 second',  -- the expected cadence of a series
    warning_pct double precision DEFAULT 2,
    critical_pct double precision DEFAULT 5
) RETURNS TABLE (
    day date,
    component text,
    series integer,
    rows_expected bigint,
    rows_stored bigint,
    missing_rows bigint,
    missing_pct double precision,
    status text
)
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    site_row ess.site;
BEGIN
    SELECT * INTO site_row FROM ess.site AS s WHERE s.site_id = completeness.site;
    IF NOT found THEN
        RAISE EXCEPTION 'operating site % does not exist', site USING ERRCODE = 'no_data_found';
    END IF;
    IF sample_interval <= interval '0' THEN
        RAISE EXCEPTION 'sample_interval must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF end_date < start_date THEN
        RAISE EXCEPTION 'end_date % is before start_date %', end_date, start_date
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH local_day AS (
        SELECT
            d::date AS local_date,
            greatest(
                d::timestamp AT TIME ZONE site_row.timezone,
                site_row.data_since::timestamp AT TIME ZONE site_row.timezone
            ) AS active_start,
            least(
                (d + interval '1 day')::timestamp AT TIME ZONE site_row.timezone,
                site_row.retired_on::timestamp AT TIME ZONE site_row.timezone,
                now()
            ) AS active_end
        FROM generate_series(start_date, end_date, interval '1 day') AS d
    ),

    series_count AS (
        SELECT 'bank' AS reported, count(*)::integer AS series_total
        FROM ess.site_bank AS b WHERE b.site_id = completeness.site
        UNION ALL
        SELECT 'rack', sum(b.rack_count)::integer
        FROM ess.site_bank AS b WHERE b.site_id = completeness.site
        UNION ALL
        SELECT 'pcs', 1
        UNION ALL
        SELECT 'etc', 1
    ),

    reported_series AS (
        SELECT sc.reported, sc.series_total
        FROM series_count AS sc
        WHERE EXISTS (
            SELECT 1 FROM ess.site_column AS c
            WHERE c.site_id = completeness.site AND c.component = sc.reported
        )
    ),

    stored AS (
        SELECT rs.reported, per_day.day AS local_date, per_day.rows_stored AS stored_rows
        FROM reported_series AS rs
        CROSS JOIN LATERAL
            ess.stored_rows_per_day(completeness.site, rs.reported, start_date, end_date)
            AS per_day
    ),

    expected AS (
        SELECT
            ld.local_date,
            rs.reported,
            rs.series_total,
            rs.series_total::bigint * floor(
                extract(EPOCH FROM ld.active_end - ld.active_start)
                / extract(EPOCH FROM sample_interval)
            )::bigint AS expected_rows,
            coalesce(st.stored_rows, 0) AS stored_rows
        FROM local_day AS ld
        CROSS JOIN reported_series AS rs
        LEFT JOIN stored AS st
            ON ld.local_date = st.local_date AND rs.reported = st.reported
        WHERE ld.active_end > ld.active_start
    )

    SELECT
        e.local_date,
        e.reported,
        e.series_total,
        e.expected_rows,
        e.stored_rows,
        greatest(e.expected_rows - e.stored_rows, 0),
        round(
            (100.0 * greatest(e.expected_rows - e.stored_rows, 0) / e.expected_rows)::numeric, 3
        )::double precision,
        CASE
            WHEN 100.0 * (e.expected_rows - e.stored_rows) / e.expected_rows > critical_pct
                THEN 'critical'
            WHEN 100.0 * (e.expected_rows - e.stored_rows) / e.expected_rows > warning_pct
                THEN 'warning'
            ELSE 'ok'
        END
    FROM expected AS e
    WHERE e.expected_rows > 0
    ORDER BY e.local_date, array_position(ARRAY['bank', 'rack', 'pcs', 'etc'], e.reported);
END;
$$;

COMMENT ON FUNCTION ess.completeness(
    integer, date, date, interval, double precision, double precision
) IS
'Rows stored vs expected (1 Hz by default) per local day and component; warning > 2 %, '
'critical > 5 % missing.';

-- Analysts may call it (through its ess_deid wrapper): row counts reveal no sensitive column.
INSERT INTO ess.analyst_function (function_name, note)
VALUES ('completeness', 'rows stored vs expected per local day and component')
ON CONFLICT (function_name) DO NOTHING;
