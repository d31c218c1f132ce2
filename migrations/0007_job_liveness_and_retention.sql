-- What the sweeper and retention need to reach every row at any rate, without time windows.
--
-- A job is running only while an invocation of one of its stages executes; between
-- invocations it waits for a queued message, however long the queue takes. stage_heartbeat_at
-- is when an invocation last started or made progress (a strip done); waiting_since is when the
-- job was created or an invocation last settled (acknowledged or set to retry). A job whose
-- heartbeat is later than waiting_since has a stage running.
ALTER TABLE jobs ADD COLUMN stage_heartbeat_at TEXT;
ALTER TABLE jobs ADD COLUMN waiting_since TEXT;
-- When the sweeper removed what the ended job's stages left (objects, strip rows); NULL until
-- then, so the pass resumes where it stopped instead of looking at a time window.
ALTER TABLE jobs ADD COLUMN cleaned_at TEXT;

-- Retention sets artifacts_expired_at (0003) on every ended job it retires, whatever its end:
-- the job's artifacts, events and strips are deleted then, and the job record is kept.
CREATE INDEX jobs_to_clean ON jobs (updated_at)
  WHERE cleaned_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
CREATE INDEX jobs_to_retire ON jobs (updated_at)
  WHERE artifacts_expired_at IS NULL AND status IN ('succeeded', 'failed', 'canceled');
CREATE INDEX uploads_kept ON uploads (created_at) WHERE expired_at IS NULL;
CREATE INDEX upload_sessions_ended ON upload_sessions (created_at) WHERE status IN ('completed', 'aborted');
