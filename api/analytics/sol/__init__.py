"""SoL (State of Life) per local day with its forecast: observed days, then a least-squares
trend with a 95 % prediction band, and the trend's backtest against persistence.
parse.py (days, fit-days) -> sql.py (one statement over ess.sol_forecast and ess.sol_models)
-> respond.py (rounding, nesting) -> routes.py."""
