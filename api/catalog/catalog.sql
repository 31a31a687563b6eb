-- One row per site with its banks and its columns per component (in the vendor's order),
-- each column with the hypertable's SQL type.
SELECT
    s.site_id,
    s.code,
    s.name,
    s.name_ko,
    s.timezone,
    s.topology,
    s.data_since,
    s.retired_on,
    (
        SELECT jsonb_object_agg(b.bank_id, b.rack_count)
        FROM ess.site_bank AS b
        WHERE b.site_id = s.site_id
    ) AS banks,
    (
        SELECT
            jsonb_agg(
                jsonb_build_array(
                    c.component, c.column_name, c.value_type, format_type(a.atttypid, a.atttypmod)
                )
                ORDER BY c.component, c.ordinal
            )
        FROM ess.site_column AS c
        INNER JOIN pg_attribute AS a
            ON format('ess.%I', c.component)::regclass = a.attrelid AND c.column_name = a.attname
        WHERE c.site_id = s.site_id
    ) AS site_columns
FROM ess.site AS s
ORDER BY s.site_id
