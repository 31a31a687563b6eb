-- The continuous aggregates of schema ess with the query each one aggregates.
SELECT
    view_name,
    view_definition
FROM timescaledb_information.continuous_aggregates
WHERE view_schema = 'ess'
