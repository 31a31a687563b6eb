"""Data completeness: rows stored vs expected per local day and component. parse.py (days,
sample interval) -> sql.py (one call of ess.completeness) -> routes.py."""
