-- Webhooks (POST /v1/webhooks): a tenant's endpoints, the deliveries owed to them (a transactional
-- outbox: the rows are written in the same D1 batch as the job change they announce) and every
-- attempt at one. Signing secrets are kept AES-GCM-encrypted under the Worker secret
-- WEBHOOK_SECRETS_KEY (src/webhooks/secrets.ts), never in clear: they must sign, so they cannot be
-- hashed. After a rotation the previous secret signs beside the new one until previous_expires_at.
CREATE TABLE webhook_endpoints (
  id                    TEXT PRIMARY KEY,
  tenant_id             TEXT NOT NULL REFERENCES tenants(id),
  url                   TEXT NOT NULL,
  events_json           TEXT NOT NULL,
  secret_sealed         TEXT NOT NULL,
  previous_secret_sealed TEXT,
  previous_expires_at   TEXT,
  -- A 410 Gone from the receiver disables the endpoint: no delivery is attempted from then on.
  disabled_at           TEXT,
  disabled_reason       TEXT,
  created_at            TEXT NOT NULL,
  updated_at            TEXT NOT NULL
);

-- GET /v1/webhooks: a tenant's endpoints, newest first, paged by (created_at, id); also what the limit counts.
CREATE INDEX webhook_endpoints_by_tenant_created ON webhook_endpoints (tenant_id, created_at, id);

-- One row per event and endpoint: its id is the webhook-id every attempt carries. event_key is the
-- event (with its stage for job.progress): the unique key makes a repeated transition (a late
-- duplicate message, a retried batch) write nothing, so one event is one delivery per endpoint.
-- status: pending (attempts go on), delivered, failed (retries used up, a refusal, or the endpoint
-- disabled or deleted). due_at: when the next attempt is due; sent_at: when its queue message was
-- sent (null until it is, which the cron's resend looks for).
CREATE TABLE webhook_messages (
  id           TEXT PRIMARY KEY,
  endpoint_id  TEXT NOT NULL,
  tenant_id    TEXT NOT NULL,
  job_id       TEXT NOT NULL,
  event_type   TEXT NOT NULL,
  stage        TEXT,
  event_key    TEXT NOT NULL,
  trace_id     TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending',
  attempts     INTEGER NOT NULL DEFAULT 0,
  due_at       TEXT NOT NULL,
  sent_at      TEXT,
  UNIQUE (endpoint_id, job_id, event_key)
);

-- The after-batch send finds a job's unsent rows; the cron finds pending rows overdue.
CREATE INDEX webhook_messages_by_job ON webhook_messages (job_id, status);
CREATE INDEX webhook_messages_pending_due ON webhook_messages (status, due_at);

-- Every attempt at a delivery, as GET /v1/webhooks/{id}/deliveries lists them (newest first).
-- outcome: delivered (2xx), failed (the receiver answered otherwise; http_status says what),
-- unreachable (no answer: refused, reset, DNS, TLS or the attempt's timeout).
CREATE TABLE webhook_attempts (
  id            TEXT PRIMARY KEY,
  message_id    TEXT NOT NULL,
  endpoint_id   TEXT NOT NULL,
  event_type    TEXT NOT NULL,
  job_id        TEXT NOT NULL,
  attempt       INTEGER NOT NULL,
  attempted_at  TEXT NOT NULL,
  outcome       TEXT NOT NULL,
  http_status   INTEGER,
  latency_ms    INTEGER NOT NULL,
  next_retry_at TEXT
);

CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, attempted_at, id);
