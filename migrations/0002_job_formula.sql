-- The compiled formula of each job (catalog index or custom expression): its bytecode program,
-- inputs, constants and histogram range, as JSON. Jobs of a custom expression name no catalog
-- index; jobs.index_id stays NOT NULL from 0001, so they store '' there (src/db reads it as null).
ALTER TABLE jobs ADD COLUMN formula_json TEXT;
