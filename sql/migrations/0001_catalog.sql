-- The catalog: which sites exist, how they are built, and which columns each site reports
-- per component. Everything the API publishes is planned against these tables.

CREATE SCHEMA IF NOT EXISTS ess;

CREATE TABLE ess.site (
    site_id smallint PRIMARY KEY,
    code text NOT NULL UNIQUE,
    name text NOT NULL,
    name_ko text,
    -- IANA name; the cast rejects names PostgreSQL does not know
    timezone text NOT NULL CHECK (now() AT TIME ZONE timezone IS NOT NULL),
    -- cell-level facts: cell type, cells in series and parallel, modules, capacity
    topology jsonb NOT NULL DEFAULT '{}',
    data_since date,
    retired_on date
);

CREATE TABLE ess.site_bank (
    site_id smallint NOT NULL REFERENCES ess.site,
    bank_id smallint NOT NULL CHECK (bank_id > 0),
    rack_count smallint NOT NULL CHECK (rack_count > 0),
    PRIMARY KEY (site_id, bank_id)
);

-- One hypertable per component; key_columns identify a series besides the time column.
CREATE TABLE ess.component (
    component text PRIMARY KEY,
    key_columns text[] NOT NULL,
    token_prefix text NOT NULL UNIQUE,
    description text NOT NULL
);

INSERT INTO ess.component (component, key_columns, token_prefix, description) VALUES
('bank', '{bank_id}', 'bk', 'Battery bank: one row per bank per second'),
('rack', '{bank_id,rack_id}', 'rk', 'Battery rack: one row per rack per second'),
('pcs', '{}', 'ps', 'Power conversion system: one row per site per second'),
('etc', '{}', 'ec', 'Environment sensors and meters: one row per site per second');

-- The columns a site reports per component, in the vendor's order. value_type is the logical
-- type; the hypertable column may be wider (it holds the union over all sites).
CREATE TABLE ess.site_column (
    site_id smallint NOT NULL REFERENCES ess.site,
    component text NOT NULL REFERENCES ess.component,
    column_name text NOT NULL,
    value_type text NOT NULL CHECK (value_type IN ('float', 'integer', 'json')),
    ordinal smallint NOT NULL,
    PRIMARY KEY (site_id, component, column_name),
    UNIQUE (site_id, component, ordinal)
);
