-- A job's log (GET /v1/jobs/{id}/logs) and the spans of its trace (GET /v1/jobs/{id}/trace): one
-- row per thing that happened to it, each under the span of the request or delivery it happened in.
-- `span_phase` marks the rows that open ('start') and close ('end') a delivery's span.
CREATE TABLE job_logs (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  at            TEXT NOT NULL,
  level         TEXT NOT NULL CHECK (level IN ('error', 'warning', 'info', 'debug')),
  stage         TEXT NOT NULL,
  window_index  INTEGER,
  attempt       INTEGER,
  code          TEXT,
  message       TEXT NOT NULL,
  data_json     TEXT,
  trace_id      TEXT NOT NULL,
  span_id       TEXT NOT NULL,
  span_phase    TEXT CHECK (span_phase IN ('start', 'end')),
  -- On a delivery's end row: how long it ran. On its start row: how long its message waited in the
  -- queue since it was sent (first attempts only; a retry's wait includes the backoff asked for).
  duration_ms   INTEGER,
  queue_wait_ms INTEGER
);
CREATE INDEX job_logs_by_job ON job_logs (job_id, id);
-- The operator's views (GET /v1/ops/failures, /v1/ops/stages) read recent rows across tenants.
CREATE INDEX job_logs_errors ON job_logs (at) WHERE level = 'error';
CREATE INDEX job_logs_deliveries ON job_logs (at) WHERE span_phase IS NOT NULL;

-- The caller's span the job's trace continues when the request sent a traceparent, and the span
-- and start of the HTTP request that created the job.
ALTER TABLE jobs ADD COLUMN parent_span_id TEXT;
ALTER TABLE jobs ADD COLUMN request_span_id TEXT;
ALTER TABLE jobs ADD COLUMN request_started_at TEXT;

-- What the job used, added to by each invocation as it settles (remote bytes are remote_bytes_read).
ALTER TABLE jobs ADD COLUMN usage_invocations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN usage_bytes_read_uploads INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN usage_bytes_written INTEGER NOT NULL DEFAULT 0;
