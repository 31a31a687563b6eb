"""Protection map: the episodes of a site (paged) and their counts per time bucket and level.
parse.py (window, gap, level, code, page, bucket) -> sql.py (one call of
ess.protection_episodes or ess.protection_level_counts) -> respond.py (page links) ->
routes.py."""
