-- Field sets (POST /v1/fields): a tenant's GeoJSON FeatureCollection of field boundaries, kept as
-- sent in R2 (object_key) for jobs to compute statistics over; the row holds what listings and
-- quotas need, so neither reads the object. bbox_json is [west, south, east, north].
CREATE TABLE field_sets (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  features     INTEGER NOT NULL,
  vertices     INTEGER NOT NULL,
  bbox_json    TEXT NOT NULL,
  object_key   TEXT NOT NULL,
  bytes        INTEGER NOT NULL,
  created_at   TEXT NOT NULL
);

-- GET /v1/fields: a tenant's sets, newest first, paged by (created_at, id); also what the quota counts.
CREATE INDEX field_sets_by_tenant_created ON field_sets (tenant_id, created_at, id);

-- What a tenant may keep stored: field sets, and their positions summed over every set (what
-- storing and checking them costs). Existing tenants get the defaults of src/access/quotas.ts.
ALTER TABLE tenants ADD COLUMN max_field_sets INTEGER NOT NULL DEFAULT 1000;
ALTER TABLE tenants ADD COLUMN max_field_vertices INTEGER NOT NULL DEFAULT 10000000;
