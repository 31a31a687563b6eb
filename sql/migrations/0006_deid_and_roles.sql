-- De-identification and database roles.
--
-- The de-identified views themselves (ess_deid.site<N>_<component>) are generated from the
-- catalog by Python (api/deid/views.py, run by `ess migrate`, `ess deid apply` and `ess run`),
-- because their column names are keyed HMACs and the key must never reach the database.

CREATE SCHEMA IF NOT EXISTS ess_deid;

-- Vendor fault-code patterns, on top of the built-in rule (a name containing fault, warning or
-- protection is sensitive). Glob syntax (* and ?), case-insensitive; component NULL = any.
-- description is what the data dictionary says about a matching column: it must not reveal
-- the column's name.
CREATE TABLE ess.deid_pattern (
    pattern text PRIMARY KEY,
    component text REFERENCES ess.component,
    description text NOT NULL,
    note text
);

INSERT INTO ess.deid_pattern (pattern, component, description, note) VALUES
('flt_*', 'pcs', 'PCS vendor fault code, 0/1', 'site 2 PCS trip codes (flt_ovar ...)'),
('*_err*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 gate_err_*, vbat_err, *_error'),
('overheat', 'pcs', 'PCS vendor fault code, 0/1', 'site 3'),
('overload', 'pcs', 'PCS vendor fault code, 0/1', 'site 3'),
('ac_fuse_open', 'pcs', 'PCS vendor fault code, 0/1', 'site 3'),
('*e_stop*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 e_stop_fault, pms_e_stop'),
('oc_*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 over-current trips'),
('ov_*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 over-voltage trips'),
('uv_*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 under-voltage trips'),
('unb_*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 unbalance trips'),
('sft_*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 soft-start trips'),
('*_source', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 grid-source trips'),
('offset_l*', 'pcs', 'PCS vendor fault code, 0/1', 'site 3 current-offset trips'),
('freq_low', 'pcs', 'PCS vendor fault code, 0/1', 'site 3'),
('freq_high', 'pcs', 'PCS vendor fault code, 0/1', 'site 3');

-- What every de-identified view publishes: one row per view column, sensitive ones under their
-- token. Holds no raw sensitive name and no key; rewritten with the views.
CREATE TABLE ess_deid.dictionary (
    site_id smallint NOT NULL,
    component text NOT NULL,
    view_name text NOT NULL,
    published_name text NOT NULL,
    ordinal smallint NOT NULL,
    value_type text NOT NULL,
    sensitive boolean NOT NULL,
    description text NOT NULL,
    PRIMARY KEY (site_id, component, published_name)
);

-- Analytics functions analysts may call. Each gets a SECURITY DEFINER wrapper of the same
-- signature in ess_deid (generated with the grants, api/auth/roles.py), because the functions
-- read the raw tables, which analysts cannot. List only functions whose output reveals no
-- sensitive column: protection_events/episodes/level_counts read the BMS fault flags, and
-- their timing would tell which token is which flag, so they are not here.
CREATE TABLE ess.analyst_function (
    function_name text PRIMARY KEY,
    note text
);

INSERT INTO ess.analyst_function (function_name, note) VALUES
('rack_sos', 'State of Safety per rack and bucket, from measurements'),
('rack_hazard_inputs', 'worst-case hazard inputs per rack and bucket'),
('site_sos_parameters', 'SoS constants of a site'),
('site_protection_thresholds', 'protection-map thresholds of a site');

COMMENT ON SCHEMA ess_deid IS
'De-identified operating data: one view per site and component; see ess_deid.dictionary.';

-- Group roles (NOLOGIN): logins are created by the administrator IN ROLE one of them.
-- ess_api: what the HTTP API needs, read only (loads and migrations run as the owner).
-- ess_analyst: the de-identified views, the site catalog and the analytics, nothing raw.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ess_api') THEN
        CREATE ROLE ess_api NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ess_analyst') THEN
        CREATE ROLE ess_analyst NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA ess, ess_deid TO ess_api, ess_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA ess, ess_deid TO ess_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA ess GRANT SELECT ON TABLES TO ess_api;
ALTER DEFAULT PRIVILEGES IN SCHEMA ess_deid GRANT SELECT ON TABLES TO ess_api, ess_analyst;

GRANT SELECT ON ess.site, ess.site_bank, ess.component, ess.site_column TO ess_analyst;
-- the analytics parameters (thresholds, SoS constants); not ess.bms_flag, which names flags
GRANT SELECT ON
ess.sos_hazard, ess.sos_parameter, ess.protection_level, ess.protection_code,
ess.protection_threshold
TO ess_analyst;
GRANT SELECT ON ess_deid.dictionary TO ess_analyst;

-- A view definition shows which raw column each token is selected from. PostgreSQL lets every
-- role read view definitions, so take that away from PUBLIC in this database (the owner and
-- superusers keep it). Needs a superuser; otherwise say so and leave it to the administrator.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        REVOKE EXECUTE ON FUNCTION
        pg_catalog.pg_get_viewdef(oid),
        pg_catalog.pg_get_viewdef(oid, boolean),
        pg_catalog.pg_get_viewdef(oid, integer),
        pg_catalog.pg_get_viewdef(text),
        pg_catalog.pg_get_viewdef(text, boolean),
        pg_catalog.pg_get_ruledef(oid),
        pg_catalog.pg_get_ruledef(oid, boolean)
        FROM PUBLIC;
        REVOKE SELECT ON pg_catalog.pg_rewrite FROM PUBLIC;
        GRANT SELECT (oid, rulename, ev_class, ev_type, ev_enabled, is_instead)
        ON pg_catalog.pg_rewrite TO PUBLIC;
    ELSE
        RAISE WARNING 'not a superuser: view definitions stay readable by every role; see '
        'docs/deid-and-auth.md (hardening) to revoke pg_get_viewdef from PUBLIC';
    END IF;
END
$$;
