-- Parameters of the safety analytics (SoS, ExSoS, protection map), as data rather than code.
-- In the per-site tables a row with site_id NULL is the default; a row for a site overrides the
-- default of the same key, so a new site (ess.add_site_like) needs no rows of its own.

-- The seven hazards of the State of Safety (Cabrera-Castillo et al., J. Power Sources 2016).
CREATE TABLE ess.sos_hazard (
    hazard text PRIMARY KEY,
    ordinal smallint NOT NULL UNIQUE,
    -- the rack quantity the factor reads (worst case per time bucket)
    quantity text NOT NULL,
    -- true: unsafe above the release value (max is the worst case); false: unsafe below (min)
    increasing boolean NOT NULL,
    unit text NOT NULL
);

INSERT INTO ess.sos_hazard (hazard, ordinal, quantity, increasing, unit) VALUES
('over_voltage', 1, 'rack_max_cell_voltage', TRUE, 'V'),
('under_voltage', 2, 'rack_min_cell_voltage', FALSE, 'V'),
('voltage_unbalance', 3, 'rack_cell_voltage_gap', TRUE, 'V'),
('over_current', 4, 'abs(rack_current)', TRUE, 'A'),
('over_temperature', 5, 'rack_max_cell_temperature', TRUE, '°C'),
('under_temperature', 6, 'rack_min_cell_temperature', FALSE, '°C'),
('temperature_unbalance', 7, 'rack_cell_temperature_gap', TRUE, '°C');

-- f(h) = 1 on the safe side of h_s, else 1 / (1 + a (h - h_s)^2) with
-- a = (1/zeta - 1) / (h_w - h_s)^2, so that f(h_w) = zeta.
CREATE TABLE ess.sos_parameter (
    site_id smallint REFERENCES ess.site,
    hazard text NOT NULL REFERENCES ess.sos_hazard,
    h_s double precision NOT NULL,
    h_w double precision NOT NULL,
    zeta double precision NOT NULL DEFAULT 0.8 CHECK (zeta > 0 AND zeta < 1),
    CHECK (h_w <> h_s)
);
CREATE UNIQUE INDEX sos_parameter_key ON ess.sos_parameter (coalesce(site_id, -1), hazard);

-- The published values, as the defaults and for each reference site.
INSERT INTO ess.sos_parameter (site_id, hazard, h_s, h_w) VALUES
(NULL, 'over_voltage', 4.014, 4.05),
(NULL, 'under_voltage', 3.34, 3.20),
(NULL, 'voltage_unbalance', 0.158, 0.30),
(NULL, 'over_current', 85.75, 100),
(NULL, 'over_temperature', 47.3, 50),
(NULL, 'under_temperature', 5.3, 0),
(NULL, 'temperature_unbalance', 17.35, 20);

INSERT INTO ess.sos_parameter (site_id, hazard, h_s, h_w, zeta)
SELECT
    reference_site.site_id,
    default_row.hazard,
    default_row.h_s,
    default_row.h_w,
    default_row.zeta
FROM ess.site AS reference_site
CROSS JOIN ess.sos_parameter AS default_row
WHERE reference_site.site_id IN (1, 2, 3) AND default_row.site_id IS NULL;

-- Protection map: levels, hazard codes, per-site thresholds and the BMS's own flags.
CREATE TABLE ess.protection_level (
    level smallint PRIMARY KEY,
    name_en text NOT NULL,
    name_ko text NOT NULL
);

INSERT INTO ess.protection_level (level, name_en, name_ko) VALUES
(1, 'warning', '경고'),
(2, 'fault', '고장');

CREATE TABLE ess.protection_code (
    code smallint PRIMARY KEY,
    hazard text NOT NULL UNIQUE,
    name_en text NOT NULL,
    name_ko text NOT NULL,
    description_en text NOT NULL,
    description_ko text NOT NULL,
    -- the SoS hazard this code watches (ExSoS reads its warning and fault levels)
    sos_hazard text REFERENCES ess.sos_hazard
);

INSERT INTO ess.protection_code (
    code, hazard, name_en, name_ko, description_en, description_ko, sos_hazard
) VALUES
(
    1, 'over_voltage', 'Over-voltage (over-charge)', '과전압(과충전)',
    'The highest cell voltage of the rack is above the limit.',
    '랙의 최대 셀 전압이 기준을 초과했습니다.', 'over_voltage'
),
(
    2, 'under_voltage', 'Under-voltage (over-discharge)', '저전압(과방전)',
    'The lowest cell voltage of the rack is below the limit.',
    '랙의 최소 셀 전압이 기준 미만입니다.', 'under_voltage'
),
(
    3, 'voltage_imbalance', 'Voltage imbalance', '전압 불균형',
    'The gap between the highest and the lowest cell voltage of the rack is above the limit.',
    '랙의 최대·최소 셀 전압 차이가 기준을 초과했습니다.', 'voltage_unbalance'
),
(
    4, 'charge_over_current', 'Charge over-current', '충전 과전류',
    'The charge current of the rack is above the limit.',
    '랙의 충전 전류가 기준을 초과했습니다.', 'over_current'
),
(
    5, 'discharge_over_current', 'Discharge over-current', '방전 과전류',
    'The discharge current of the rack is above the limit.',
    '랙의 방전 전류가 기준을 초과했습니다.', 'over_current'
),
(
    6, 'over_temperature', 'Over-temperature', '과온도',
    'The highest cell temperature of the rack is above the limit.',
    '랙의 최대 셀 온도가 기준을 초과했습니다.', 'over_temperature'
),
(
    7, 'under_temperature', 'Under-temperature', '저온도',
    'The lowest cell temperature of the rack is below the limit.',
    '랙의 최소 셀 온도가 기준 미만입니다.', 'under_temperature'
),
(
    8, 'temperature_imbalance', 'Temperature imbalance', '온도 불균형',
    'The gap between the highest and the lowest cell temperature of the rack is above the limit.',
    '랙의 최대·최소 셀 온도 차이가 기준을 초과했습니다.', 'temperature_unbalance'
),
(
    9, 'charge_relay_fault', 'Charge relay (+) fault', '충전 릴레이(+) 고장',
    'The BMS reports a fault of the rack''s charge (+) relay.',
    'BMS가 랙의 충전(+) 릴레이 고장을 보고했습니다.', NULL
),
(
    10, 'discharge_relay_fault', 'Discharge relay (-) fault', '방전 릴레이(-) 고장',
    'The BMS reports a fault of the rack''s discharge (-) relay.',
    'BMS가 랙의 방전(-) 릴레이 고장을 보고했습니다.', NULL
),
(
    11, 'fuse_minus_fault', 'Fuse (-) fault', '퓨즈(-) 고장',
    'The BMS reports a fault of the rack''s (-) fuse.',
    'BMS가 랙의 (-) 퓨즈 고장을 보고했습니다.', NULL
),
(
    12, 'fuse_plus_fault', 'Fuse (+) fault', '퓨즈(+) 고장',
    'The BMS reports a fault of the rack''s (+) fuse.',
    'BMS가 랙의 (+) 퓨즈 고장을 보고했습니다.', NULL
),
(
    13, 'tray_rack_communication_fault', 'Tray-rack communication fault', '트레이-랙 통신 고장',
    'The BMS reports lost communication between the rack and its trays.',
    'BMS가 랙과 트레이 간 통신 고장을 보고했습니다.', NULL
);

-- Threshold rules evaluated per rack row. quantity names one of the values the protection-map
-- functions derive from a rack row; discharge_current is -rack_current (positive while
-- discharging), so a discharge over-current is a value above the limit like any other.
CREATE TABLE ess.protection_threshold (
    site_id smallint REFERENCES ess.site,
    code smallint NOT NULL REFERENCES ess.protection_code,
    quantity text NOT NULL CHECK (
        quantity IN (
            'rack_max_cell_voltage',
            'rack_min_cell_voltage',
            'rack_cell_voltage_gap',
            'charge_current',
            'discharge_current',
            'rack_max_cell_temperature',
            'rack_min_cell_temperature',
            'rack_cell_temperature_gap'
        )
    ),
    direction text NOT NULL CHECK (direction IN ('above', 'below')),
    warning_level double precision,
    fault_level double precision,
    unit text NOT NULL,
    CHECK (warning_level IS NOT NULL OR fault_level IS NOT NULL),
    -- the fault level lies beyond the warning level
    CHECK (
        warning_level IS NULL
        OR fault_level IS NULL
        OR (direction = 'above' AND fault_level > warning_level)
        OR (direction = 'below' AND fault_level < warning_level)
    )
);
CREATE UNIQUE INDEX protection_threshold_key
ON ess.protection_threshold (coalesce(site_id, -1), code);

-- Site 1's published protection map, as the default for every site and as site 1's own rows.
INSERT INTO ess.protection_threshold (
    site_id, code, quantity, direction, warning_level, fault_level, unit
) VALUES
(NULL, 1, 'rack_max_cell_voltage', 'above', 4.05, 4.10, 'V'),
(NULL, 2, 'rack_min_cell_voltage', 'below', 3.20, 3.00, 'V'),
(NULL, 3, 'rack_cell_voltage_gap', 'above', 0.3, 0.5, 'V'),
(NULL, 4, 'charge_current', 'above', NULL, 120, 'A'),
(NULL, 5, 'discharge_current', 'above', NULL, 120, 'A'),
(NULL, 6, 'rack_max_cell_temperature', 'above', 50, 55, '°C'),
(NULL, 7, 'rack_min_cell_temperature', 'below', 0, -10, '°C'),
(NULL, 8, 'rack_cell_temperature_gap', 'above', 20, 25, '°C');

INSERT INTO ess.protection_threshold (
    site_id, code, quantity, direction, warning_level, fault_level, unit
)
SELECT
    1 AS site_id,
    code,
    quantity,
    direction,
    warning_level,
    fault_level,
    unit
FROM ess.protection_threshold
WHERE site_id IS NULL;

-- The BMS's own flags on each rack row: a non-zero value is an event of `code` at `level`.
-- rack_status_for_warning / rack_status_for_fault are summaries of these and are not mapped.
CREATE TABLE ess.bms_flag (
    flag_column text PRIMARY KEY,
    code smallint NOT NULL REFERENCES ess.protection_code,
    level smallint NOT NULL REFERENCES ess.protection_level
);

INSERT INTO ess.bms_flag (flag_column, code, level) VALUES
('rack_over_voltage_protection_warning', 1, 1),
('rack_over_voltage_protection_fault', 1, 2),
('rack_under_voltage_protection_warning', 2, 1),
('rack_under_voltage_protection_fault', 2, 2),
('rack_voltage_imbalance_warning', 3, 1),
('rack_voltage_imbalance_fault', 3, 2),
-- sites 2 and 3 (the misspelling is the source data's)
('rack_tray_volatge_imbalance_warning', 3, 1),
('rack_over_current_charge_warning', 4, 1),
('rack_over_current_charge_fault', 4, 2),
('rack_over_current_discharge_warning', 5, 1),
('rack_over_current_discharge_fault', 5, 2),
('rack_over_temperature_warning', 6, 1),
('rack_over_temperature_fault', 6, 2),
('rack_under_temperature_warning', 7, 1),
('rack_under_temperature_fault', 7, 2),
('rack_temperature_imbalance_warning', 8, 1),
('rack_temperature_imbalance_fault', 8, 2),
('rack_charge_relay_plus_fault_status', 9, 2),
('rack_discharge_relay_minus_fault_status', 10, 2),
('rack_fuse_minus_fault_status', 11, 2),
('rack_fuse_plus_fault_status', 12, 2),
('rack_tray_rack_communication_fault', 13, 2);
