-- Quotas that hold when requests race, Idempotency-Key claims that survive a crash, upload
-- sessions that expire, and the index behind GET /v1/jobs.

-- An upload in parts holds its declared bytes against the tenant's daily quota while it is
-- open, and only until expires_at (24 h after it was opened; rows from before get the same).
-- The sweeper then aborts it and sets expired_at.
ALTER TABLE upload_sessions ADD COLUMN expires_at TEXT;
ALTER TABLE upload_sessions ADD COLUMN expired_at TEXT;
UPDATE upload_sessions SET expires_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '+1 day');
CREATE INDEX upload_sessions_open_by_tenant ON upload_sessions (tenant_id, status, expires_at);
CREATE INDEX upload_sessions_by_status_expiry ON upload_sessions (status, expires_at);

-- Bytes an upload holds against the daily quota while its body streams (or while its session
-- is being opened). Taken by one conditional INSERT, so racing uploads cannot all pass the
-- check; deleted when the upload is recorded or fails, and ignored after expires_at (a crash).
CREATE TABLE upload_reservations (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  bytes         INTEGER NOT NULL,
  expires_at    TEXT NOT NULL
);
CREATE INDEX upload_reservations_by_tenant ON upload_reservations (tenant_id, expires_at);

-- Everything that counts against a tenant's daily upload bytes, in one place for the quota's
-- check and its message: stored uploads count from their creation (deleted ones too), open
-- sessions and reservations until they lapse.
CREATE VIEW upload_quota_holds AS
  SELECT tenant_id, bytes, created_at AS stored_at, NULL AS held_until FROM uploads
  UNION ALL
  SELECT tenant_id, bytes, NULL, expires_at FROM upload_sessions WHERE status = 'open'
  UNION ALL
  SELECT tenant_id, bytes, NULL, expires_at FROM upload_reservations;

-- An Idempotency-Key claim is leased: claim_token names the request holding it until
-- lease_until, after which a retry may take it over if nothing was created. resource_id is
-- what the request created (a job or upload id), bound in the transaction that records it.
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
ALTER TABLE idempotency_keys ADD COLUMN lease_until TEXT;
ALTER TABLE idempotency_keys ADD COLUMN resource_id TEXT;

-- GET /v1/jobs: a tenant's jobs, newest first, paged by (created_at, id).
CREATE INDEX jobs_by_tenant_created ON jobs (tenant_id, created_at, id);
