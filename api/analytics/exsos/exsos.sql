-- ExSoS of the series per time bucket (ess.exsos, sql/functions/sos_extended.sql), named and
-- nested as the answer: the five membership degrees and the two inputs of the operating state.
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
        'catastrophic', x.catastrophic,
        'critical', x.critical,
        'neutral', x.neutral,
        'marginal', x.marginal,
        'negligible', x.negligible
    ) AS membership_degree,
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
