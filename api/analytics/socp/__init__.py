"""SoCP (State of Cell Position): which cell positions are reported as a rack's highest and
lowest cell voltage, per operating state and SoC decile, over a period of 1, 7 or 30 days.
parse.py (window, charge status, rack-days budget) -> sql.py (one call of ess.rack_socp, grouped
in socp.sql) -> routes.py."""
