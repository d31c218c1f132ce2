-- The compiled formula of each job (catalog index or custom expression): its bytecode program,
-- inputs, constants and histogram range, as JSON. jobs.index_id holds the catalog id, or
-- 'expression' for a job of a custom expression.
ALTER TABLE jobs ADD COLUMN formula_json TEXT;
