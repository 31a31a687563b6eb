-- The functions of schema ess listed in ess.analyst_function, with what a wrapper needs.
SELECT
    p.proname AS function_name,
    p.pronargs AS argument_count,
    p.provolatile AS volatility,
    pg_get_function_arguments(p.oid) AS arguments,
    pg_get_function_result(p.oid) AS result
FROM pg_proc AS p
INNER JOIN ess.analyst_function AS f ON p.proname = f.function_name
WHERE p.pronamespace = 'ess'::regnamespace AND p.prokind = 'f'
ORDER BY p.proname, p.oid
