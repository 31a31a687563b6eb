-- SoL of the series (sql/functions/sol.sql) in one statement: the observed and forecast days
-- (ess.sol_forecast) and the trend models with their backtest (ess.sol_models), each in its
-- functions' order.
SELECT
    (
        SELECT coalesce(json_agg(f ORDER BY f.ordinality), '[]')
        FROM
            ess.sol_forecast(
                %(site)s,
                %(bank)s,
                %(rack)s,
                %(first_day)s,
                %(last_day)s,
                %(fit_days)s
            ) WITH ORDINALITY AS f
    ) AS items,
    (
        SELECT coalesce(json_agg(m ORDER BY m.ordinality), '[]')
        FROM
            ess.sol_models(
                %(site)s,
                %(bank)s,
                %(rack)s,
                %(first_day)s,
                %(last_day)s,
                %(fit_days)s,
                %(holdout_days)s
            ) WITH ORDINALITY AS m
    ) AS models
