-- The observed and forecast SoL days of the series (ess.sol_forecast, sql/functions/sol.sql),
-- in the function's order: the bare list of the earlier service's URL.
SELECT
    f.bank_id,
    f.rack_id,
    f.day,
    f.value,
    f.top_limit_value,
    f.bottom_limit_value,
    f.kind
FROM
    ess.sol_forecast(
        %(site)s,
        %(bank)s,
        %(rack)s,
        %(first_day)s,
        %(last_day)s,
        %(fit_days)s
    ) WITH ORDINALITY AS f
ORDER BY f.ordinality
