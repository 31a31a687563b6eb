-- The functions of schema ess_deid with their identity arguments (to drop them).
SELECT format('ess_deid.%I(%s)', p.proname, pg_get_function_identity_arguments(p.oid))
FROM pg_proc AS p
WHERE p.pronamespace = 'ess_deid'::regnamespace
