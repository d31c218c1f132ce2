-- The ETag a remote input (href) had when ingest probed it: every later read asks for that
-- version with If-Match, so a file replaced during a job fails it instead of mixing versions.
-- NULL for uploads and for servers that send no strong ETag (their size is still checked).
ALTER TABLE job_inputs ADD COLUMN etag TEXT;
