-- The de-identified views as they are: name, column names and column types in order.
SELECT
    c.relname AS view_name,
    array_agg(a.attname::text ORDER BY a.attnum) AS column_names,
    array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS column_types
FROM pg_class AS c
INNER JOIN pg_attribute AS a
    ON c.oid = a.attrelid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relnamespace = 'ess_deid'::regnamespace AND c.relkind = 'v'
GROUP BY c.relname
