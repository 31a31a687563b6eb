-- Protection map: the master-rack communication and module fault flags become hazard codes, and
-- the events (one row per reading, rule and level) are stored so that long windows read only
-- the events, not every rack row. sql/functions/protection_map.sql fills the store and reads it.

INSERT INTO ess.protection_code (
    code, hazard, name_en, name_ko, description_en, description_ko, sos_hazard
) VALUES
(
    14, 'master_rack_communication_fault', 'Master-rack communication fault',
    '마스터-랙 통신 고장',
    'The BMS reports lost communication between the master BMS and a rack '
    '(rack 0: the bank''s own flag, for any of its racks).',
    'BMS가 마스터 BMS와 랙 간 통신 고장을 보고했습니다.', NULL
),
(
    15, 'module_fault', 'Module fault', '모듈 고장',
    'The BMS reports a fault of one or more modules of the rack.',
    'BMS가 랙 모듈 고장을 보고했습니다.', NULL
);

-- The reading functions gain a p_use_store argument and the counts a new meaning: replaced by
-- sql/functions/protection_map.sql (absent on a fresh database, hence IF EXISTS).
DROP FUNCTION IF EXISTS ess.protection_level_counts(
    integer, timestamptz, timestamptz, interval, interval
);
DROP FUNCTION IF EXISTS ess.protection_episodes(
    integer, timestamptz, timestamptz, interval, integer, integer, integer, integer
);
DROP FUNCTION IF EXISTS ess.protection_events(
    integer, timestamptz, timestamptz, interval, integer, integer, integer, integer
);

-- One row per reading in which a rule holds (ess.protection_reading_events), for the readings
-- older than the site's watermark. Events are rare next to readings.
CREATE TABLE ess.protection_event (
    ts timestamptz NOT NULL,
    site_id smallint NOT NULL,
    bank_id smallint NOT NULL,
    rack_id smallint NOT NULL,
    code smallint NOT NULL,
    level smallint NOT NULL,
    source_kind text NOT NULL, -- threshold | bms_flag
    source_column text NOT NULL,
    direction text,
    value double precision
);
CREATE INDEX protection_event_site_idx ON ess.protection_event (site_id, ts);
SELECT create_hypertable('ess.protection_event', by_range('ts', interval '30 days'));

-- Per site: the store holds every event of the readings before stored_until; later readings
-- are evaluated on the fly. No row: nothing stored (after a threshold change, for instance).
CREATE TABLE ess.protection_event_watermark (
    site_id smallint PRIMARY KEY REFERENCES ess.site ON DELETE CASCADE,
    stored_until timestamptz NOT NULL
);
