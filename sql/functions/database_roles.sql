-- The grants of the group roles (migration 0006) over objects made after the migrations: the
-- de-identified views, the continuous aggregates and the analysts' function wrappers. Called by
-- api/database_roles/grants.py on every `ess migrate` and `ess deid apply`, which decides from
-- the de-identification rules which aggregates analysts may read.

-- The columns of the raw hypertables, one per component (ess.bank, ess.rack, ...).
CREATE OR REPLACE FUNCTION ess.raw_table_columns()
RETURNS TABLE (component text, column_name text)
LANGUAGE sql
STABLE
AS $$
    SELECT c.relname::text, a.attname::text
    FROM pg_attribute AS a
    INNER JOIN pg_class AS c ON a.attrelid = c.oid
    INNER JOIN ess.component AS k ON c.relname = k.component
    WHERE
        c.relnamespace = 'ess'::regnamespace
        AND a.attnum > 0
        AND NOT a.attisdropped
$$;

-- The continuous aggregates of schema ess with the query each one aggregates.
CREATE OR REPLACE FUNCTION ess.continuous_aggregate_queries()
RETURNS TABLE (view_name text, view_definition text)
LANGUAGE sql
STABLE
AS $$
    SELECT a.view_name::text, a.view_definition
    FROM timescaledb_information.continuous_aggregates AS a
    WHERE a.view_schema = 'ess'
$$;

-- ess_api reads every table and view of ess and ess_deid; ess_analyst reads the de-identified
-- views and the readable aggregates, not the refused ones, and calls the functions listed in
-- ess.analyst_function through SECURITY DEFINER wrappers of the same name and signature in
-- ess_deid (the functions read raw tables, which analysts cannot). Returns the wrapped functions.
CREATE OR REPLACE FUNCTION ess.grant_role_privileges(
    readable_aggregates text[], refused_aggregates text[]
)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
    item record;
BEGIN
    GRANT SELECT ON ALL TABLES IN SCHEMA ess, ess_deid TO ess_api;
    GRANT SELECT ON ALL TABLES IN SCHEMA ess_deid TO ess_analyst;
    FOR item IN SELECT unnest(readable_aggregates) AS name LOOP
        EXECUTE format('GRANT SELECT ON ess.%I TO ess_analyst', item.name);
    END LOOP;
    FOR item IN SELECT unnest(refused_aggregates) AS name LOOP
        EXECUTE format('REVOKE SELECT ON ess.%I FROM ess_analyst', item.name);
    END LOOP;

    -- wrappers are re-created: the wrapped functions may have changed their signature
    FOR item IN
        SELECT p.oid::regprocedure AS signature
        FROM pg_proc AS p
        WHERE p.pronamespace = 'ess_deid'::regnamespace
    LOOP
        EXECUTE format('DROP FUNCTION %s', item.signature);
    END LOOP;
    FOR item IN
        SELECT
            p.proname AS name,
            pg_get_function_arguments(p.oid) AS arguments,
            pg_get_function_result(p.oid) AS result,
            CASE p.provolatile
                WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE'
            END AS volatility,
            coalesce(
                (SELECT string_agg('$' || i, ', ') FROM generate_series(1, p.pronargs) AS i), ''
            ) AS parameters
        FROM pg_proc AS p
        INNER JOIN ess.analyst_function AS f ON p.proname = f.function_name
        WHERE p.pronamespace = 'ess'::regnamespace AND p.prokind = 'f'
        ORDER BY p.proname, p.oid
    LOOP
        -- the wrapped functions call TimescaleDB's functions (schema public) unqualified
        EXECUTE format(
            'CREATE FUNCTION ess_deid.%I(%s) RETURNS %s LANGUAGE sql %s SECURITY DEFINER '
            'SET search_path = pg_catalog, ess, public, pg_temp AS %L',
            item.name, item.arguments, item.result, item.volatility,
            format('SELECT * FROM ess.%I(%s)', item.name, item.parameters)
        );
        RETURN NEXT item.name;
    END LOOP;
    REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA ess_deid FROM PUBLIC;
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ess_deid TO ess_analyst, ess_api;
END
$$;
