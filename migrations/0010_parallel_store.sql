-- store assembles result.tif in many invocations (src/pipeline/store/): the overview tree's
-- blocks, then the parts of one R2 multipart upload, each counted done here in the transaction
-- that records it, so a redelivery never counts twice and exactly one delivery sees a level,
-- or the upload, complete.

-- One block of overview tiles (a square of tiles of one level). tile_bytes_json: the byte
-- count of each of its tiles, row-major, per level it built (the top block builds every level
-- from its own up).
CREATE TABLE job_overview_blocks (
  job_id           TEXT NOT NULL REFERENCES jobs(id),
  level            INTEGER NOT NULL,
  block            INTEGER NOT NULL,
  tile_bytes_json  TEXT,
  done_at          TEXT,
  PRIMARY KEY (job_id, level, block)
);

-- The R2 multipart upload of result.tif, recorded once per job (while the job is live) so a
-- failure, a cancel or the sweeper can abort it. completed_at and aborted_at exclude each other.
CREATE TABLE job_result_uploads (
  job_id        TEXT PRIMARY KEY REFERENCES jobs(id),
  object_key    TEXT NOT NULL,
  multipart_id  TEXT NOT NULL,
  part_bytes    INTEGER NOT NULL,
  part_count    INTEGER NOT NULL,
  total_bytes   INTEGER NOT NULL,
  created_at    TEXT NOT NULL,
  completed_at  TEXT,
  aborted_at    TEXT
);

-- Every part of that upload; etag is the one the last upload of the part returned, which the
-- completing invocation hands to R2.
CREATE TABLE job_result_parts (
  job_id        TEXT NOT NULL REFERENCES jobs(id),
  part_number   INTEGER NOT NULL,
  etag          TEXT,
  done_at       TEXT,
  PRIMARY KEY (job_id, part_number)
);
