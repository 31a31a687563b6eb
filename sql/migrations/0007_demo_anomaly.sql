-- Anomalies injected by the demo generator (`ess demo`, sql/functions/demo_data.sql): which rack,
-- which kind, when. Tests and the analytics find the episodes here; the generator reads this
-- table while it writes the rack rows, so the table is also the generator's plan. Real data
-- never has rows here.
CREATE TABLE ess.demo_anomaly (
    site_id smallint NOT NULL,
    bank_id smallint NOT NULL,
    rack_id smallint NOT NULL,
    kind text NOT NULL CHECK (
        kind IN ('weak_cell', 'over_temperature', 'voltage_imbalance', 'discharge_over_current')
    ),
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
    -- the cell whose voltage or temperature departs (null for over-current, a whole-rack event)
    cell_position smallint,
    -- the value the episode peaks at: V sag per day (weak cell), C, V gap, A
    peak double precision NOT NULL,
    seed bigint NOT NULL,
    description text NOT NULL,
    PRIMARY KEY (site_id, kind, starts_at),
    FOREIGN KEY (site_id, bank_id) REFERENCES ess.site_bank
);
