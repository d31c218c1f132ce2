-- Large uploads in parts (R2 multipart): one session per upload, and the parts received so far.
-- A session's id is the upload id the file gets once it is complete; it belongs to the tenant
-- that opened it.

CREATE TABLE upload_sessions (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  object_key    TEXT NOT NULL,
  multipart_id  TEXT NOT NULL,
  bytes         INTEGER NOT NULL,
  part_bytes    INTEGER NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('open', 'completed', 'aborted')),
  trace_id      TEXT NOT NULL,
  created_at    TEXT NOT NULL
);

CREATE TABLE upload_parts (
  upload_id     TEXT NOT NULL REFERENCES upload_sessions(id),
  part_number   INTEGER NOT NULL,
  bytes         INTEGER NOT NULL,
  etag          TEXT NOT NULL,
  PRIMARY KEY (upload_id, part_number)
);
