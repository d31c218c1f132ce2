-- Tenants and their API keys. Every upload and job belongs to a tenant; events and artifacts
-- belong to one through their job. Rows from before tenancy have no tenant and are visible to
-- no key.

CREATE TABLE tenants (
  id                        TEXT PRIMARY KEY,
  name                      TEXT NOT NULL UNIQUE,
  max_concurrent_jobs       INTEGER NOT NULL,
  max_pixels_per_job        INTEGER NOT NULL,
  max_upload_bytes_per_day  INTEGER NOT NULL,
  max_requests_per_minute   INTEGER NOT NULL,
  created_at                TEXT NOT NULL
);

-- Keys are stored only as the SHA-256 of the key; `prefix` is the start of the key, shown to
-- tell keys apart.
CREATE TABLE api_keys (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  key_hash      TEXT NOT NULL UNIQUE,
  prefix        TEXT NOT NULL,
  scopes        TEXT NOT NULL,
  label         TEXT,
  created_at    TEXT NOT NULL,
  revoked_at    TEXT
);

ALTER TABLE uploads ADD COLUMN tenant_id TEXT REFERENCES tenants(id);
ALTER TABLE uploads ADD COLUMN expired_at TEXT;
ALTER TABLE jobs ADD COLUMN tenant_id TEXT REFERENCES tenants(id);
ALTER TABLE jobs ADD COLUMN artifacts_expired_at TEXT;
CREATE INDEX uploads_by_tenant ON uploads (tenant_id, created_at);
CREATE INDEX jobs_by_tenant_status ON jobs (tenant_id, status);
CREATE INDEX jobs_by_status_updated ON jobs (status, updated_at);

-- Idempotency-Key: the first response to a (tenant, operation, key) is kept for 24 h and
-- replayed for the same request; response_json is NULL while the first request runs.
CREATE TABLE idempotency_keys (
  tenant_id      TEXT NOT NULL REFERENCES tenants(id),
  operation      TEXT NOT NULL,
  key            TEXT NOT NULL,
  request_hash   TEXT,
  status         INTEGER,
  response_json  TEXT,
  location       TEXT,
  created_at     TEXT NOT NULL,
  PRIMARY KEY (tenant_id, operation, key)
);

-- Requests per key per fixed window, for the HTTP rate limit.
CREATE TABLE rate_windows (
  key_id        TEXT NOT NULL,
  window_start  INTEGER NOT NULL,
  count         INTEGER NOT NULL,
  PRIMARY KEY (key_id, window_start)
);
