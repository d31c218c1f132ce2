-- Stages are data (src/pipeline/stages.ts): adding one must not need a migration, so jobs.stage
-- loses the CHECK that listed them. SQLite cannot drop a constraint, so jobs is rebuilt the way
-- SQLite allows inside a transaction (copy aside, drop, create, copy back), its foreign keys checked
-- at commit.
PRAGMA defer_foreign_keys = true;

CREATE TABLE jobs_before_0011 AS SELECT * FROM jobs;
DROP TABLE jobs;

CREATE TABLE jobs (
  id                  TEXT PRIMARY KEY,
  index_id            TEXT NOT NULL,
  request_json        TEXT NOT NULL,
  status              TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  stage               TEXT,
  progress            REAL NOT NULL DEFAULT 0,
  error_json          TEXT,
  plan_json           TEXT,
  trace_id            TEXT NOT NULL,
  created_at          TEXT NOT NULL,
  updated_at          TEXT NOT NULL,
  tenant_id           TEXT REFERENCES tenants(id),
  artifacts_expired_at TEXT,
  formula_json        TEXT,
  stage_heartbeat_at  TEXT,
  waiting_since       TEXT,
  cleaned_at          TEXT,
  remote_bytes_read   INTEGER NOT NULL DEFAULT 0
);

-- Each row put back settles the deferred checks of the rows that refer to it.
INSERT INTO jobs (id, index_id, request_json, status, stage, progress, error_json, plan_json, trace_id,
  created_at, updated_at, tenant_id, artifacts_expired_at, formula_json, stage_heartbeat_at, waiting_since,
  cleaned_at, remote_bytes_read)
SELECT id, index_id, request_json, status, stage, progress, error_json, plan_json, trace_id,
  created_at, updated_at, tenant_id, artifacts_expired_at, formula_json, stage_heartbeat_at, waiting_since,
  cleaned_at, remote_bytes_read
FROM jobs_before_0011;
DROP TABLE jobs_before_0011;

CREATE INDEX jobs_by_tenant_status ON jobs (tenant_id, status);
CREATE INDEX jobs_by_status_updated ON jobs (status, updated_at);
CREATE INDEX jobs_to_clean ON jobs (updated_at)
  WHERE cleaned_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
CREATE INDEX jobs_to_retire ON jobs (updated_at)
  WHERE artifacts_expired_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
CREATE INDEX jobs_by_tenant_created ON jobs (tenant_id, created_at, id);

-- What a result looks wrong for (stats.json's warnings), recorded when it is published.
ALTER TABLE jobs ADD COLUMN warnings_json TEXT;

-- The histogram stage's second pass: each window's counts over the job's edges, and when.
ALTER TABLE job_strips ADD COLUMN histogram_json TEXT;
ALTER TABLE job_strips ADD COLUMN binned_at TEXT;
