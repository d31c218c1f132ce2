-- A job input is an upload or a remote COG (href): upload_id and object_key become optional,
-- and exactly one of upload_id and href is set. SQLite cannot relax NOT NULL in place, so the
-- table is rebuilt (nothing references it).

CREATE TABLE job_inputs_new (
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  name          TEXT NOT NULL,
  upload_id     TEXT REFERENCES uploads(id),
  href          TEXT,
  band          INTEGER NOT NULL,
  object_key    TEXT,
  bytes         INTEGER NOT NULL,
  PRIMARY KEY (job_id, name),
  CHECK ((upload_id IS NULL) <> (href IS NULL)),
  CHECK ((upload_id IS NULL) = (object_key IS NULL))
);

INSERT INTO job_inputs_new (job_id, name, upload_id, href, band, object_key, bytes)
  SELECT job_id, name, upload_id, NULL, band, object_key, bytes FROM job_inputs;

DROP TABLE job_inputs;

ALTER TABLE job_inputs_new RENAME TO job_inputs;
