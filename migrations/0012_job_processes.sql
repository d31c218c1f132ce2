-- Jobs name their process (src/processes/): every job before this one computed an index. A
-- process need not compute an index, so index_id may be NULL; SQLite cannot drop NOT NULL, so jobs
-- is rebuilt as in 0011 (copy aside, drop, create, copy back), its foreign keys checked at commit.
PRAGMA defer_foreign_keys = true;

CREATE TABLE jobs_before_0012 AS SELECT * FROM jobs;
DROP TABLE jobs;

CREATE TABLE jobs (
  id                  TEXT PRIMARY KEY,
  process             TEXT NOT NULL DEFAULT 'index',
  index_id            TEXT,
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
  remote_bytes_read   INTEGER NOT NULL DEFAULT 0,
  warnings_json       TEXT
);

-- Each row put back settles the deferred checks of the rows that refer to it.
INSERT INTO jobs (id, index_id, request_json, status, stage, progress, error_json, plan_json, trace_id,
  created_at, updated_at, tenant_id, artifacts_expired_at, formula_json, stage_heartbeat_at, waiting_since,
  cleaned_at, remote_bytes_read, warnings_json)
SELECT id, index_id, request_json, status, stage, progress, error_json, plan_json, trace_id,
  created_at, updated_at, tenant_id, artifacts_expired_at, formula_json, stage_heartbeat_at, waiting_since,
  cleaned_at, remote_bytes_read, warnings_json
FROM jobs_before_0012;
DROP TABLE jobs_before_0012;

CREATE INDEX jobs_by_tenant_status ON jobs (tenant_id, status);
CREATE INDEX jobs_by_status_updated ON jobs (status, updated_at);
CREATE INDEX jobs_to_clean ON jobs (updated_at)
  WHERE cleaned_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
CREATE INDEX jobs_to_retire ON jobs (updated_at)
  WHERE artifacts_expired_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
CREATE INDEX jobs_by_tenant_created ON jobs (tenant_id, created_at, id);
