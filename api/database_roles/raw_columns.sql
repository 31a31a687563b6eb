-- The columns of the raw hypertables, one per component (ess.bank, ess.rack, ...).
SELECT
    c.relname AS component,
    a.attname AS column_name
FROM pg_attribute AS a
INNER JOIN pg_class AS c ON a.attrelid = c.oid
INNER JOIN ess.component AS k ON c.relname = k.component
WHERE
    c.relnamespace = 'ess'::regnamespace
    AND a.attnum > 0
    AND NOT a.attisdropped
