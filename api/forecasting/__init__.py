"""Forecasts of rack quantities (docs/forecasting.md): six URLs, `ess forecast train|status`.

Modules, in request order:
- targets.py   the forecast targets, their URLs and the models
- parse.py     query parameters -> validated window and step (400 naming the parameter)
- plan.py      site, series, target, window -> ForecastPlan (work bounded before any SQL)
- execute.py   the only code holding a connection: ess.forecast() rows, decoded by column name,
               and the stored model of the version those rows used
- respond.py   rows + LightGBM predictions -> the answer's msgspec Structs
- routes.py    the controllers, a few lines each
Training: models.py (fit, predict, split-conformal intervals), train.py (rolling-origin
backtest, storage with a version), command.py (the CLI).
"""
