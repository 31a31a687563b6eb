-- The de-identified views, ess_deid.site<N>_<component>: the time, the site and the site's own
-- columns, sensitive ones renamed to their tokens, with their data dictionary.
--
-- The tokens are keyed HMACs of the column names. Python computes them (api/deid/names.py) and
-- passes only the result, the token map, to these functions: the key never reaches the
-- database, and neither these stored definitions (readable by every role in pg_proc) nor any
-- view names a token. Which raw column a token stands for is in the view definitions alone,
-- which migration 0006 hides from every role but the owner.
--
-- The token map (jsonb), one object per published column, in each view's column order:
--   {"site_id": 2, "component": "rack", "source": "<raw name>", "name": "<published name>",
--    "sql_type": "real", "value_type": "float", "sensitive": true, "description": "..."}

-- Each view the token map asks for: its name, columns and types, and the select list.
CREATE OR REPLACE FUNCTION ess.deid_view_plan(token_map jsonb)
RETURNS TABLE (
    view_name text,
    site_id smallint,
    component text,
    column_names text[],
    column_types text[],
    select_list text
)
LANGUAGE sql
IMMUTABLE
AS $$
    SELECT
        format('site%s_%s', c.site_id, c.component),
        c.site_id,
        c.component,
        ARRAY['ts', 'site_id'] || array_agg(c.name ORDER BY c.position),
        ARRAY['timestamp with time zone', 'smallint'] || array_agg(c.sql_type ORDER BY c.position),
        'ts, site_id, ' || string_agg(
            CASE
                WHEN c.sensitive THEN format('%I AS %I', c.source, c.name)
                ELSE format('%I', c.source)
            END,
            ', ' ORDER BY c.position
        )
    FROM ROWS FROM (
        jsonb_to_recordset(token_map) AS (
            site_id smallint, component text, source text, name text, sql_type text,
            sensitive boolean
        )
    ) WITH ORDINALITY AS c (site_id, component, source, name, sql_type, sensitive, position)
    GROUP BY c.site_id, c.component
$$;

-- The de-identified views as they are: name, column names and column types in order.
CREATE OR REPLACE FUNCTION ess.deid_existing_views()
RETURNS TABLE (view_name text, column_names text[], column_types text[])
LANGUAGE sql
STABLE
AS $$
    SELECT
        c.relname::text,
        array_agg(a.attname::text ORDER BY a.attnum),
        array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
    FROM pg_class AS c
    INNER JOIN pg_attribute AS a
        ON c.oid = a.attrelid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = 'ess_deid'::regnamespace AND c.relkind = 'v'
    GROUP BY c.relname
$$;

-- The views of the token map that are missing or differ (made with another key, or before a
-- column was added), by site and component.
CREATE OR REPLACE FUNCTION ess.deid_stale_views(token_map jsonb)
RETURNS SETOF text
LANGUAGE sql
STABLE
AS $$
    SELECT wanted.view_name
    FROM ess.deid_view_plan(token_map) AS wanted
    LEFT JOIN ess.deid_existing_views() AS existing
        ON wanted.view_name = existing.view_name
    WHERE
        existing.column_names IS DISTINCT FROM wanted.column_names
        OR existing.column_types IS DISTINCT FROM wanted.column_types
    ORDER BY wanted.site_id, wanted.component
$$;

-- Bring ess_deid in step with the token map: (re)create the stale views, leave the others alone
-- (the same key changes nothing), drop the views of sites or components no longer there, and
-- rewrite the dictionary. Runs in the caller's transaction, so a reader sees the old views or
-- the new ones. Returns each view with what was done: created, unchanged or dropped.
CREATE OR REPLACE FUNCTION ess.deid_apply_views(token_map jsonb)
RETURNS TABLE (view_name text, action text)
LANGUAGE plpgsql
AS $$
DECLARE
    stale text[] := ARRAY(SELECT ess.deid_stale_views(token_map));
    wanted record;
BEGIN
    FOR wanted IN
        SELECT plan.* FROM ess.deid_view_plan(token_map) AS plan
        ORDER BY plan.site_id, plan.component
    LOOP
        view_name := wanted.view_name;
        action := 'unchanged';
        IF wanted.view_name = ANY(stale) THEN
            EXECUTE format('DROP VIEW IF EXISTS ess_deid.%I', wanted.view_name);
            EXECUTE format(
                'CREATE VIEW ess_deid.%I AS SELECT %s FROM ess.%I WHERE site_id = %s',
                wanted.view_name, wanted.select_list, wanted.component, wanted.site_id
            );
            EXECUTE format(
                'COMMENT ON VIEW ess_deid.%I IS %L',
                wanted.view_name,
                format(
                    'De-identified %s rows of operating site %s; '
                    'column meanings in ess_deid.dictionary',
                    wanted.component, wanted.site_id
                )
            );
            action := 'created';
        END IF;
        RETURN NEXT;
    END LOOP;

    FOR view_name IN
        SELECT existing.view_name FROM ess.deid_existing_views() AS existing
        WHERE
            existing.view_name ~ '^site\d+_(bank|rack|pcs|etc)$'
            AND existing.view_name NOT IN (
                SELECT plan.view_name FROM ess.deid_view_plan(token_map) AS plan
            )
        ORDER BY existing.view_name
    LOOP
        EXECUTE format('DROP VIEW ess_deid.%I', view_name);
        action := 'dropped';
        RETURN NEXT;
    END LOOP;

    DELETE FROM ess_deid.dictionary;
    INSERT INTO ess_deid.dictionary (
        site_id, component, view_name, published_name, ordinal, value_type, sensitive,
        description
    )
    SELECT
        c.site_id,
        c.component,
        format('ess_deid.site%s_%s', c.site_id, c.component),
        c.name,
        row_number() OVER (PARTITION BY c.site_id, c.component ORDER BY c.position),
        c.value_type,
        c.sensitive,
        c.description
    FROM (
        SELECT
            view_key.site_id, view_key.component, lead.name, lead.value_type,
            FALSE AS sensitive, lead.description, lead.position
        FROM (
            SELECT DISTINCT m.site_id, m.component
            FROM jsonb_to_recordset(token_map) AS m (site_id smallint, component text)
        ) AS view_key
        CROSS JOIN (
            VALUES
            ('ts', 'timestamp', 'time of the reading (timestamptz)', -1),
            ('site_id', 'integer', 'operating site', 0)
        ) AS lead (name, value_type, description, position)
        UNION ALL
        SELECT
            m.site_id, m.component, m.name, m.value_type, m.sensitive, m.description,
            m.position
        FROM ROWS FROM (
            jsonb_to_recordset(token_map) AS (
                site_id smallint, component text, name text, value_type text,
                sensitive boolean, description text
            )
        ) WITH ORDINALITY AS m (
            site_id, component, name, value_type, sensitive, description, position
        )
    ) AS c;
END
$$;
