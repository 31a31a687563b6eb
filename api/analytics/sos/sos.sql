-- SoS of the series per time bucket (ess.rack_sos, sql/functions/sos.sql), named as the answer.
SELECT
    s.bucket AS time,
    %(site)s::integer AS operating_site,
    s.bank_id,
    s.rack_id,
    s.over_voltage,
    s.under_voltage,
    s.voltage_unbalance,
    s.over_current,
    s.over_temperature,
    s.under_temperature,
    s.temperature_unbalance,
    s.sos_score,
    s.sos_class AS class
FROM ess.rack_sos(
    %(site)s, %(bank)s, %(rack)s, %(window_start)s, %(window_end)s, %(bucket_width)s
) AS s
