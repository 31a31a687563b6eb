-- Compression: segment by series, order by time. Chunks are compressed only once they are
-- older than the late-data window, because upserts into compressed chunks are slow.
ALTER TABLE ess.rack SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'site_id, bank_id, rack_id',
    timescaledb.compress_orderby = 'ts'
);
ALTER TABLE ess.bank SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'site_id, bank_id',
    timescaledb.compress_orderby = 'ts'
);
ALTER TABLE ess.pcs SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'site_id',
    timescaledb.compress_orderby = 'ts'
);
ALTER TABLE ess.etc SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'site_id',
    timescaledb.compress_orderby = 'ts'
);

SELECT add_compression_policy('ess.rack', interval '30 days');
SELECT add_compression_policy('ess.bank', interval '30 days');
SELECT add_compression_policy('ess.pcs', interval '30 days');
SELECT add_compression_policy('ess.etc', interval '30 days');

-- Retention exists but is paused: lifecycle datasets are the product, nothing is dropped unless
-- an operator resumes these jobs (SELECT alter_job(job_id, scheduled => true)).
SELECT alter_job(add_retention_policy('ess.rack', interval '10 years'), scheduled => FALSE);
SELECT alter_job(add_retention_policy('ess.bank', interval '10 years'), scheduled => FALSE);
SELECT alter_job(add_retention_policy('ess.pcs', interval '10 years'), scheduled => FALSE);
SELECT alter_job(add_retention_policy('ess.etc', interval '10 years'), scheduled => FALSE);
