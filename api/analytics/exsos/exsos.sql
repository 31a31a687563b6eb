-- ExSoS of the series per time bucket (ess.exsos, sql/functions/sos_extended.sql), named and
-- nested as the answer: the five membership degrees (keyed by class name, capitalized as the
-- earlier service's clients read them), the state and the seven inputs of the bucket as the
-- earlier service's membership_degree_detail, and the two inputs the operating state chose.
SELECT
    x.bucket AS time,
    x.mode,
    %(site)s::integer AS operating_site,
    x.bank_id,
    x.rack_id,
    x.operating_state,
    x.mean_current,
    x.integrated_safety,
    x.exsos_class AS class,
    json_build_object(
        'Catastrophic', x.catastrophic,
        'Critical', x.critical,
        'Neutral', x.neutral,
        'Marginal', x.marginal,
        'Negligible', x.negligible
    ) AS membership_degree,
    json_build_object(
        'status', array_position(
            ARRAY['charge', 'discharge', 'rest'], x.operating_state
        ) - 1,
        'max_voltage', x.max_cell_voltage,
        'max_temperature', x.max_cell_temperature,
        'min_voltage', x.min_cell_voltage,
        'min_temperature', x.min_cell_temperature,
        'voltage_gap', x.max_cell_voltage_gap,
        'temperature_gap', x.max_cell_temperature_gap
    ) AS membership_degree_detail,
    json_build_array(
        json_build_object(
            'hazard', x.hazard_a,
            'quantity', x.quantity_a,
            'value', x.value_a,
            'severity', x.severity_a
        ),
        json_build_object(
            'hazard', x.hazard_b,
            'quantity', x.quantity_b,
            'value', x.value_b,
            'severity', x.severity_b
        )
    ) AS inputs
FROM ess.exsos(
    %(site)s,
    %(bank)s,
    %(rack)s,
    %(window_start)s,
    %(window_end)s,
    %(bucket_width)s,
    %(mode)s
) AS x
