-- Which key the de-identified views were generated with, as a public identifier (see
-- api/deid/names.py key_id): Parquet and Arrow downloads of de-identified data carry it, so
-- that files from different days can be told apart by key without revealing anything of the
-- key. One row, rewritten with the views.
CREATE TABLE ess_deid.key_identifier (
    key_id text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
