"""SoL (State of Life) per local day with its forecast: observed days, then a least-squares
trend with a 95 % prediction band, and the trend's backtest against persistence.
parse.py (days, fit-days) -> sql.py (the days of ess.sol_forecast; for the detail URL also the
models of ess.sol_models) -> respond.py (rounding, nesting) -> routes.py (the bare list; the
detail URL)."""
