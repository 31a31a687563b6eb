-- The safety parameters must not contradict each other. The SoS factor and the ExSoS severity
-- scale both start at a hazard's release value h_s (fully safe on its safe side); they divide by
-- the distance from h_s to the SoS warning value h_w, the protection map's warning level, or
-- its fault level where a code has no warning level. A release value equal to one of those
-- divided by zero; one beyond it turned the scale round (severity 0 even at the fault level).
-- So, in force at every site (its own rows, else the defaults) and among the defaults:
--   - h_s lies strictly on the safe side of h_w (below it for an increasing hazard, above it
--     for a decreasing one);
--   - h_s lies strictly on the safe side of the warning level (else the fault level) of every
--     protection code that watches the hazard, and that code points the same way.
-- A check constraint cannot read other rows or tables, so a statement trigger on each table
-- checks what is in force after every change and refuses the change with the first conflict.

CREATE FUNCTION ess.safety_parameter_conflicts()
RETURNS TABLE (site_id smallint, hazard text, code smallint, problem text)
LANGUAGE sql
STABLE
AS $$
    WITH scope AS (
        -- every site, and the defaults themselves (site_id NULL)
        SELECT s.site_id FROM ess.site AS s
        UNION ALL
        SELECT NULL::smallint
    ),

    sos AS (
        SELECT DISTINCT ON (scope.site_id, h.hazard)
            scope.site_id, h.hazard, h.increasing, p.h_s, p.h_w
        FROM scope
        CROSS JOIN ess.sos_hazard AS h
        INNER JOIN ess.sos_parameter AS p
            ON p.hazard = h.hazard AND (p.site_id = scope.site_id OR p.site_id IS NULL)
        ORDER BY scope.site_id, h.hazard, p.site_id NULLS LAST
    ),

    threshold AS (
        SELECT DISTINCT ON (scope.site_id, t.code)
            scope.site_id,
            t.code,
            c.sos_hazard,
            t.direction,
            coalesce(t.warning_level, t.fault_level) AS first_level,
            CASE WHEN t.warning_level IS NULL THEN 'fault' ELSE 'warning' END AS level_name
        FROM scope
        INNER JOIN ess.protection_threshold AS t
            ON t.site_id = scope.site_id OR t.site_id IS NULL
        INNER JOIN ess.protection_code AS c ON c.code = t.code
        WHERE c.sos_hazard IS NOT NULL
        ORDER BY scope.site_id, t.code, t.site_id NULLS LAST
    )

    SELECT
        sos.site_id,
        sos.hazard,
        NULL::smallint AS code,
        format(
            '%s: the %s release value h_s = %s must be %s the SoS warning value h_w = %s',
            coalesce('site ' || sos.site_id, 'the defaults'), sos.hazard, sos.h_s,
            CASE WHEN sos.increasing THEN 'below' ELSE 'above' END, sos.h_w
        ) AS problem
    FROM sos
    WHERE CASE WHEN sos.increasing THEN sos.h_s >= sos.h_w ELSE sos.h_s <= sos.h_w END
    UNION ALL
    SELECT
        t.site_id,
        sos.hazard,
        t.code,
        CASE
            WHEN (t.direction = 'above') <> sos.increasing THEN format(
                '%s: protection code %s is ''%s'' its levels but the SoS hazard %s it watches '
                'is unsafe %s its release value',
                coalesce('site ' || t.site_id, 'the defaults'), t.code, t.direction,
                sos.hazard, CASE WHEN sos.increasing THEN 'above' ELSE 'below' END
            )
            ELSE format(
                '%s: the %s release value h_s = %s must be %s the %s level %s of protection '
                'code %s',
                coalesce('site ' || t.site_id, 'the defaults'), sos.hazard, sos.h_s,
                CASE WHEN sos.increasing THEN 'below' ELSE 'above' END, t.level_name,
                t.first_level, t.code
            )
        END AS problem
    FROM threshold AS t
    INNER JOIN sos
        ON sos.site_id IS NOT DISTINCT FROM t.site_id AND sos.hazard = t.sos_hazard
    WHERE
        (t.direction = 'above') <> sos.increasing
        OR CASE
            WHEN sos.increasing THEN sos.h_s >= t.first_level
            ELSE sos.h_s <= t.first_level
        END
    ORDER BY 1 NULLS FIRST, 2, 3 NULLS FIRST
$$;

CREATE FUNCTION ess.refuse_safety_parameter_conflicts()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    conflict record;
BEGIN
    SELECT c.problem INTO conflict FROM ess.safety_parameter_conflicts() AS c LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION '%', conflict.problem
            USING
                ERRCODE = 'check_violation',
                HINT = 'Change the release value (ess.set_sos_parameter) or the protection '
                'levels so that the release value stays on the safe side of both.';
    END IF;
    RETURN NULL;
END;
$$;

-- refuse a database that already holds a conflict, with the same sentence
DO $$
DECLARE
    conflict record;
BEGIN
    SELECT c.problem INTO conflict FROM ess.safety_parameter_conflicts() AS c LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'safety parameters in conflict: %', conflict.problem
            USING ERRCODE = 'check_violation';
    END IF;
END;
$$;

CREATE TRIGGER sos_parameter_consistent
AFTER INSERT OR UPDATE OR DELETE ON ess.sos_parameter
FOR EACH STATEMENT EXECUTE FUNCTION ess.refuse_safety_parameter_conflicts();

CREATE TRIGGER protection_threshold_consistent
AFTER INSERT OR UPDATE OR DELETE ON ess.protection_threshold
FOR EACH STATEMENT EXECUTE FUNCTION ess.refuse_safety_parameter_conflicts();

COMMENT ON FUNCTION ess.safety_parameter_conflicts() IS
'Release values (ess.sos_parameter) not strictly on the safe side of the SoS warning value or '
'of the protection levels in force, per site and among the defaults: one sentence each';
