-- Bytes a job has reserved for reading its remote inputs, over every invocation of every stage,
-- so REMOTE_MAX_BYTES_PER_JOB bounds the job and not one reader (src/raster/remote-budget.ts).
ALTER TABLE jobs ADD COLUMN remote_bytes_read INTEGER NOT NULL DEFAULT 0;
