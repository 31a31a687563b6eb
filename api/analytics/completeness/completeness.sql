-- Rows stored vs expected per local day and component (ess.completeness,
-- sql/functions/completeness.sql), named as the answer.
SELECT
    c.day AS date,
    c.component,
    c.series,
    c.rows_expected,
    c.rows_stored,
    c.missing_rows,
    c.missing_pct,
    c.status
FROM
    ess.completeness(
        %(site)s::integer,
        %(first_day)s,
        %(last_day)s,
        sample_interval => %(sample_interval)s::interval
    ) AS c
