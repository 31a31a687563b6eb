-- The trend model of each series with its backtest against persistence (ess.sol_models,
-- sql/functions/sol.sql), in the function's order: the detail URL's models.
SELECT
    m.bank_id,
    m.rack_id,
    m.origin,
    m.fit_start,
    m.n_days,
    m.slope_per_day,
    m.intercept,
    m.residual_se,
    m.t_quantile,
    m.backtest_origin,
    m.holdout_days,
    m.mae_trend,
    m.mae_persistence,
    m.band_coverage
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
ORDER BY m.ordinality
