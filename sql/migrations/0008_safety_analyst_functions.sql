-- The rest of the safety analytics for analysts (through the ess_deid wrappers, see 0006):
-- their outputs are measurements, cell positions and SoH, none of the sensitive flag columns.
-- The protection-map functions stay out (they read the BMS's fault flags).
INSERT INTO ess.analyst_function (function_name, note) VALUES
('exsos', 'extended SoS (fuzzy) per rack or bank and bucket, with memberships and inputs'),
('rack_socp', 'State of Cell Position: max/min cell voltage positions per state and SoC decile'),
('daily_soh', 'daily mean SoH and SoL of a bank or rack'),
('sol_forecast', 'daily SoL, observed and forecast with a 95 % prediction band'),
('sol_trend', 'least-squares SoL trend fitted up to a day'),
('sol_backtest', 'SoL trend forecast against persistence over holdout days'),
('sol_models', 'SoL trend at the forecast origin with its backtest'),
('sol_origin', 'the last day with SoH data in a range')
ON CONFLICT (function_name) DO NOTHING;
