"""Protection map: the episodes of a site (paged) and their counts per time bucket and level.
parse.py (window or second, gap, level, code, message, page or no_page, item keys, bucket) ->
sql.py (one call of ess.protection_episodes or ess.protection_level_counts) -> respond.py (the
earlier service's keys, the chosen keys, page links or the bounded bare list) -> routes.py.
store.py refreshes the stored events after data was written."""
