-- Continuous aggregates of the operating data: per series at 1 minute, 1 hour and 1 day.
--   ess.rack_1m, ess.rack_1h, ess.rack_1d   per site, bank, rack
--   ess.bank_1m, ess.bank_1h, ess.bank_1d   per site, bank
--   ess.pcs_1m ... ess.etc_1d               per site, row counts only (data completeness)
-- Columns (see 00_machinery.sql): bucket, the series key, n_rows, and for each measured column
-- avg_/min_/max_/sum_/n_<col>, plus max_abs_<col> of the currents. The 1 h level is computed
-- from the 1 min level and the 1 d level from the 1 h level (hierarchical, exact).
--
-- Buckets: a fixed UTC+09:00 grid (origin 2000-01-03 00:00+09), i.e. local days and hours of
-- Asia/Seoul, which has no daylight saving time. Aggregates must be one relation for all sites,
-- so they cannot follow each site's time zone; the API and ess.completeness() read the site's
-- time zone from the catalog and use a level only where its grid matches the site's local
-- buckets (1 min and 1 h for any whole-hour UTC offset, 1 d only at +09), raw rows otherwise.
--
-- Once created, an aggregate is never redefined by re-running this file (IF NOT EXISTS): a change
-- of columns needs a migration that drops the old levels first.

SELECT ess.create_base_aggregate(
    'ess.rack',
    'ess.rack_1m',
    interval '1 minute',
    '2000-01-03 00:00:00+09',
    measured => ARRAY[
        'rack_soc',
        'rack_soh',
        'rack_voltage',
        'rack_current',
        'rack_max_cell_voltage',
        'rack_min_cell_voltage',
        'rack_cell_voltage_gap',
        'rack_max_cell_temperature',
        'rack_min_cell_temperature',
        'rack_cell_temperature_gap'
    ],
    signed => ARRAY['rack_current']
);
SELECT ess.create_rollup('ess.rack_1m', 'ess.rack_1h', interval '1 hour');
SELECT ess.create_rollup('ess.rack_1h', 'ess.rack_1d', interval '1 day');

SELECT ess.create_base_aggregate(
    'ess.bank',
    'ess.bank_1m',
    interval '1 minute',
    '2000-01-03 00:00:00+09',
    measured => ARRAY[
        'bank_soc',
        'bank_soh',
        'bank_dc_volt',
        'bank_dc_current',
        'bank_power',
        'max_cell_voltage_of_bank',
        'min_cell_voltage_of_bank',
        'max_cell_temperature_of_bank',
        'min_cell_temperature_of_bank'
    ],
    signed => ARRAY['bank_dc_current', 'bank_power']
);
SELECT ess.create_rollup('ess.bank_1m', 'ess.bank_1h', interval '1 hour');
SELECT ess.create_rollup('ess.bank_1h', 'ess.bank_1d', interval '1 day');

SELECT ess.create_base_aggregate(
    'ess.pcs', 'ess.pcs_1m', interval '1 minute', '2000-01-03 00:00:00+09', measured => '{}'
);
SELECT ess.create_rollup('ess.pcs_1m', 'ess.pcs_1h', interval '1 hour');
SELECT ess.create_rollup('ess.pcs_1h', 'ess.pcs_1d', interval '1 day');

SELECT ess.create_base_aggregate(
    'ess.etc', 'ess.etc_1m', interval '1 minute', '2000-01-03 00:00:00+09', measured => '{}'
);
SELECT ess.create_rollup('ess.etc_1m', 'ess.etc_1h', interval '1 hour');
SELECT ess.create_rollup('ess.etc_1h', 'ess.etc_1d', interval '1 day');
