-- EO Edge metadata. Append-only: later changes go in new numbered files.

CREATE TABLE uploads (
  id            TEXT PRIMARY KEY,
  object_key    TEXT NOT NULL,
  bytes         INTEGER NOT NULL,
  raster_json   TEXT NOT NULL,
  trace_id      TEXT NOT NULL,
  created_at    TEXT NOT NULL
);

CREATE TABLE jobs (
  id            TEXT PRIMARY KEY,
  index_id      TEXT NOT NULL,
  request_json  TEXT NOT NULL,
  status        TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  stage         TEXT CHECK (stage IN ('ingest', 'validate', 'compute', 'store', 'publish')),
  progress      REAL NOT NULL DEFAULT 0,
  error_json    TEXT,
  plan_json     TEXT,
  trace_id      TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

CREATE TABLE job_inputs (
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  name          TEXT NOT NULL,
  upload_id     TEXT NOT NULL REFERENCES uploads(id),
  band          INTEGER NOT NULL,
  object_key    TEXT NOT NULL,
  bytes         INTEGER NOT NULL,
  PRIMARY KEY (job_id, name)
);

CREATE TABLE job_strips (
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  strip_index   INTEGER NOT NULL,
  row_start     INTEGER NOT NULL,
  row_end       INTEGER NOT NULL,
  stats_json    TEXT,
  done_at       TEXT,
  PRIMARY KEY (job_id, strip_index)
);

CREATE TABLE job_events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  stage         TEXT NOT NULL,
  status        TEXT NOT NULL,
  at            TEXT NOT NULL,
  duration_ms   INTEGER,
  attempt       INTEGER NOT NULL,
  trace_id      TEXT NOT NULL,
  detail_json   TEXT
);
CREATE INDEX job_events_by_job ON job_events (job_id, id);

CREATE TABLE artifacts (
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  name          TEXT NOT NULL,
  media_type    TEXT NOT NULL,
  bytes         INTEGER NOT NULL,
  object_key    TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (job_id, name)
);
