-- The machinery of the continuous aggregates: a catalog view of them, and the rule that derives
-- a coarser aggregate (1 hour, 1 day) from a finer one (hierarchical continuous aggregates).
--
-- Column naming contract of every aggregate in schema ess (the API and the analytics read it):
--   bucket           bucket start (timestamptz); buckets are aligned on local midnight of
--                    Asia/Seoul (origin 2000-01-03 00:00+09), a fixed UTC+09:00 grid
--   site_id, bank_id, rack_id   the series key (whichever the component has)
--   n_rows           rows stored in the bucket
--   avg_<col>, min_<col>, max_<col>, sum_<col>, n_<col> (non-null count) of a measured column;
--                    an exact average over coarser buckets is sum(sum_<col>) / sum(n_<col>)
--   max_abs_<col>    maximum magnitude of a signed column (currents)

-- One row per continuous aggregate of schema ess: the hypertable it summarises (following
-- hierarchical aggregates down to the raw data), its bucket grid and its columns.
-- Only fixed-width buckets without a time zone are listed: their grid is origin + k * width.
CREATE OR REPLACE VIEW ess.aggregate_level AS
WITH RECURSIVE lineage AS (
    SELECT
        agg.mat_hypertable_id,
        agg.raw_hypertable_id AS source_hypertable_id
    FROM _timescaledb_catalog.continuous_agg AS agg
    UNION ALL
    SELECT
        lineage.mat_hypertable_id,
        parent.raw_hypertable_id
    FROM lineage
    INNER JOIN _timescaledb_catalog.continuous_agg AS parent
        ON lineage.source_hypertable_id = parent.mat_hypertable_id
)

SELECT
    agg.user_view_name::text AS relation,
    raw_table.table_name::text AS component,
    bucket.bucket_width::interval AS bucket_width,
    bucket.bucket_origin::timestamptz AS bucket_origin,
    NOT agg.materialized_only AS real_time,
    array(
        SELECT att.attname::text
        FROM pg_attribute AS att
        WHERE
            att.attrelid = format('%I.%I', agg.user_view_schema, agg.user_view_name)::regclass
            AND att.attnum > 0
            AND NOT att.attisdropped
        ORDER BY att.attnum
    ) AS column_names
FROM _timescaledb_catalog.continuous_agg AS agg
INNER JOIN _timescaledb_catalog.continuous_aggs_bucket_function AS bucket
    ON agg.mat_hypertable_id = bucket.mat_hypertable_id
INNER JOIN lineage
    ON agg.mat_hypertable_id = lineage.mat_hypertable_id
INNER JOIN _timescaledb_catalog.hypertable AS raw_table
    ON lineage.source_hypertable_id = raw_table.id
WHERE
    agg.user_view_schema = 'ess'
    AND raw_table.schema_name = 'ess'
    AND bucket.bucket_fixed_width
    AND bucket.bucket_timezone IS NULL
    AND bucket.bucket_origin IS NOT NULL;

COMMENT ON VIEW ess.aggregate_level IS
'Continuous aggregates of schema ess: component, bucket width and origin, columns.';

-- A refresh policy for a real server (the embedded engine runs no background jobs: loads call
-- api.refresh.refresh_aggregates). Seven days back covers late rows of the last week; older
-- backfills are refreshed by the load that wrote them. Real-time aggregation covers the rest.
CREATE OR REPLACE FUNCTION ess.add_aggregate_policy(aggregate regclass, bucket_width interval)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM add_continuous_aggregate_policy(
        aggregate,
        start_offset => interval '7 days',
        end_offset => bucket_width,
        schedule_interval => least(bucket_width, interval '1 hour'),
        if_not_exists => true
    );
END;
$$;

-- An index per series and time, replacing the per-column group indexes.
CREATE OR REPLACE FUNCTION ess.add_series_index(aggregate regclass)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    key_columns text[];
BEGIN
    SELECT array_agg(quote_ident(att.attname) ORDER BY att.attnum) INTO key_columns
    FROM pg_attribute AS att
    WHERE att.attrelid = aggregate AND att.attname IN ('site_id', 'bank_id', 'rack_id');
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS %I ON %s (%s, bucket)',
        (SELECT relname FROM pg_class WHERE oid = aggregate) || '_series_bucket',
        aggregate,
        array_to_string(key_columns, ', ')
    );
END;
$$;

-- Create `target` as a continuous aggregate of a raw hypertable: per series (site_id and the
-- component's key columns) and bucket, n_rows, the five statistics of every `measured` column
-- and max_abs_<col> of every `signed` column.
CREATE OR REPLACE FUNCTION ess.create_base_aggregate(
    hypertable regclass,
    target text,  -- a constant of sql/continuous_aggregates, e.g. 'ess.rack_1m'
    bucket_width interval,
    bucket_origin timestamptz,
    measured text[],
    signed text[] DEFAULT '{}'
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    key_columns text[];
    select_list text[];
    column_name text;
BEGIN
    SELECT array(SELECT quote_ident(key) FROM unnest(ARRAY['site_id'] || component.key_columns) AS key)
    INTO STRICT key_columns
    FROM ess.component
    WHERE format('ess.%I', component.component)::regclass = hypertable;
    select_list := format(
        'time_bucket(%L::interval, ts, origin => %L::timestamptz) AS bucket',
        bucket_width, bucket_origin
    )::text || key_columns || 'count(*) AS n_rows'::text;
    FOREACH column_name IN ARRAY measured LOOP
        select_list := select_list || format(
            'avg(%1$I) AS %2$I, min(%1$I) AS %3$I, max(%1$I) AS %4$I, sum(%1$I) AS %5$I, '
            'count(%1$I) AS %6$I',
            column_name, 'avg_' || column_name, 'min_' || column_name, 'max_' || column_name,
            'sum_' || column_name, 'n_' || column_name
        );
    END LOOP;
    FOREACH column_name IN ARRAY signed LOOP
        select_list := select_list
            || format('max(abs(%I)) AS %I', column_name, 'max_abs_' || column_name);
    END LOOP;
    EXECUTE format(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS %s WITH (timescaledb.continuous, '
        'timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) '
        'AS SELECT %s FROM %s GROUP BY %s WITH NO DATA',
        target,
        array_to_string(select_list, ', '),
        hypertable,
        array_to_string('1'::text || key_columns, ', ')
    );
    PERFORM ess.add_series_index(target::regclass);
    PERFORM ess.add_aggregate_policy(target::regclass, bucket_width);
END;
$$;

-- Create `target` as a hierarchical continuous aggregate of `source` with wider buckets on the
-- same origin. Every column of `source` is re-aggregated by its name: keys are grouped by,
-- n_* and sum_* are summed, min_*/max_* take min/max, avg_* = sum(sum_*) / sum(n_*), so the
-- coarser level is exact (up to floating-point summation order) and never averages averages.
CREATE OR REPLACE FUNCTION ess.create_rollup(
    source regclass,
    target text,  -- a constant of sql/continuous_aggregates, e.g. 'ess.rack_1h'
    bucket_width interval
) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    source_origin timestamptz;
    select_list text[];
    group_list text[] := ARRAY['1'];
    column_name text;
    measured text;
BEGIN
    SELECT level.bucket_origin INTO STRICT source_origin
    FROM ess.aggregate_level AS level
    WHERE format('ess.%I', level.relation)::regclass = source;
    select_list := ARRAY[format(
        'time_bucket(%L::interval, bucket, origin => %L::timestamptz) AS bucket',
        bucket_width, source_origin
    )];
    FOR column_name IN
        SELECT att.attname FROM pg_attribute AS att
        WHERE att.attrelid = source AND att.attnum > 0 AND NOT att.attisdropped
        ORDER BY att.attnum
    LOOP
        measured := substring(column_name FROM '^[a-z]+_(.*)$');
        IF column_name = 'bucket' THEN
            CONTINUE;
        ELSIF column_name IN ('site_id', 'bank_id', 'rack_id') THEN
            select_list := select_list || quote_ident(column_name);
            group_list := group_list || quote_ident(column_name);
        ELSIF column_name LIKE 'n\_%' THEN
            select_list := select_list || format('sum(%1$I)::bigint AS %1$I', column_name);
        ELSIF column_name LIKE 'sum\_%' THEN
            select_list := select_list || format('sum(%1$I) AS %1$I', column_name);
        ELSIF column_name LIKE 'min\_%' THEN
            select_list := select_list || format('min(%1$I) AS %1$I', column_name);
        ELSIF column_name LIKE 'max\_%' THEN
            select_list := select_list || format('max(%1$I) AS %1$I', column_name);
        ELSIF column_name LIKE 'avg\_%' THEN
            select_list := select_list || format(
                'sum(%I) / nullif(sum(%I), 0) AS %I',
                'sum_' || measured, 'n_' || measured, column_name
            );
        ELSE
            RAISE EXCEPTION 'no rollup rule for column %.%', source, column_name;
        END IF;
    END LOOP;
    EXECUTE format(
        'CREATE MATERIALIZED VIEW IF NOT EXISTS %s WITH (timescaledb.continuous, '
        'timescaledb.materialized_only = false, timescaledb.create_group_indexes = false) '
        'AS SELECT %s FROM %s GROUP BY %s WITH NO DATA',
        target,
        array_to_string(select_list, ', '),
        source,
        array_to_string(group_list, ', ')
    );
    PERFORM ess.add_series_index(target::regclass);
    PERFORM ess.add_aggregate_policy(target::regclass, bucket_width);
END;
$$;
