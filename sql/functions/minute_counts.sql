-- Where the 1-minute continuous aggregate of a component counts its rows exactly, for a window.
--
-- The API finds the first row of a deep numbered page from the per-minute row counts (n_rows)
-- of `<component>_1m` instead of skipping every row before it (OFFSET). A stored count is exact
-- for a bucket that was materialized (before the aggregate's watermark) and that no write has
-- touched since: TimescaleDB logs the time range of every insert, update or delete below its
-- invalidation threshold (which is at or past the watermark) until a refresh re-materializes it.
-- This function answers, clamped to [p_start, p_end):
--   counts_schema, counts_table   the aggregate's materialized hypertable (its stored buckets,
--                    read without the real-time union of the view), NULL when the component has
--                    no 1-minute level
--   bucket_width, bucket_origin   its grid
--   materialized_until   the watermark: rows from here on are counted from the raw table
--   stale_starts, stale_ends     ranges [start, end) written since their last refresh (pending
--                    invalidations of the raw hypertable and of the aggregate, and ranges a
--                    refresh is materializing right now): counted from the raw table too
--
--   SELECT * FROM ess.minute_count_coverage('rack', '2022-05-10 00:00+09', '2022-05-11 00:00+09');

CREATE OR REPLACE FUNCTION ess.minute_count_coverage(
    p_component text,
    p_start timestamptz,
    p_end timestamptz,
    OUT counts_schema text,
    OUT counts_table text,
    OUT bucket_width interval,
    OUT bucket_origin timestamptz,
    OUT materialized_until timestamptz,
    OUT stale_starts timestamptz[],
    OUT stale_ends timestamptz[]
)
LANGUAGE plpgsql
STABLE
AS $$
DECLARE
    level record;
    start_us bigint := _timescaledb_functions.to_unix_microseconds(p_start);
    end_us bigint := _timescaledb_functions.to_unix_microseconds(p_end);
    -- in-flight materializations exist only from TimescaleDB 2.2x on
    ranges_table regclass := to_regclass(
        '_timescaledb_catalog.continuous_aggs_materialization_ranges'
    );
    stale_ranges text := $sql$
        SELECT lowest_modified_value AS lo, greatest_modified_value AS hi
        FROM _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log
        WHERE hypertable_id = $1
        UNION ALL
        SELECT lowest_modified_value, greatest_modified_value
        FROM _timescaledb_catalog.continuous_aggs_materialization_invalidation_log
        WHERE materialization_id = $2
    $sql$;
BEGIN
    SELECT
        mat_table.schema_name::text AS counts_schema,
        mat_table.table_name::text AS counts_table,
        agg.raw_hypertable_id,
        agg.mat_hypertable_id,
        bucket.bucket_width::interval AS width,
        bucket.bucket_origin::timestamptz AS origin
    INTO level
    FROM _timescaledb_catalog.continuous_agg AS agg
    INNER JOIN _timescaledb_catalog.continuous_aggs_bucket_function AS bucket
        ON agg.mat_hypertable_id = bucket.mat_hypertable_id
    INNER JOIN _timescaledb_catalog.hypertable AS raw_table
        ON agg.raw_hypertable_id = raw_table.id
    INNER JOIN _timescaledb_catalog.hypertable AS mat_table
        ON agg.mat_hypertable_id = mat_table.id
    WHERE
        agg.user_view_schema = 'ess'
        AND raw_table.schema_name = 'ess'
        AND raw_table.table_name = p_component
        AND bucket.bucket_fixed_width
        AND bucket.bucket_timezone IS NULL
        AND bucket.bucket_origin IS NOT NULL
        AND bucket.bucket_width::interval = interval '1 minute'
    ORDER BY agg.user_view_name
    LIMIT 1;
    IF NOT found THEN
        RETURN;
    END IF;
    counts_schema := level.counts_schema;
    counts_table := level.counts_table;
    bucket_width := level.width;
    bucket_origin := level.origin;
    materialized_until := _timescaledb_functions.to_timestamp(
        least(greatest(_timescaledb_functions.cagg_watermark(level.mat_hypertable_id), start_us), end_us)
    );
    IF ranges_table IS NOT NULL THEN
        stale_ranges := stale_ranges || format(
            'UNION ALL SELECT lowest_modified_value, greatest_modified_value FROM %s '
            'WHERE materialization_id = $2',
            ranges_table
        );
    END IF;
    -- greatest_modified_value is inclusive
    EXECUTE format(
        'SELECT coalesce(array_agg(_timescaledb_functions.to_timestamp(greatest(lo, $3)) ORDER BY lo), ''{}''), '
        'coalesce(array_agg(_timescaledb_functions.to_timestamp(least(hi, $4 - 1) + 1) ORDER BY lo), ''{}'') '
        'FROM (%s) AS stale WHERE lo < $4 AND hi >= $3',
        stale_ranges
    )
    INTO stale_starts, stale_ends
    USING level.raw_hypertable_id, level.mat_hypertable_id, start_us, end_us;
END;
$$;

COMMENT ON FUNCTION ess.minute_count_coverage(text, timestamptz, timestamptz) IS
'The 1-minute aggregate of a component and which parts of a window its row counts cover exactly.';
