/** SQL of field sets: recording one within the tenant's quotas, finding, listing and deleting them. */

export interface FieldSetRecord {
	id: string;
	tenantId: string;
	objectKey: string;
	features: number;
	vertices: number;
	/** [west, south, east, north] in longitude/latitude. */
	bbox: [number, number, number, number];
	bytes: number;
	createdAt: string;
}

/** Where a page of GET /v1/fields ended: the next page starts strictly after it. */
export interface FieldSetCursor {
	createdAt: string;
	id: string;
}

interface FieldSetRow {
	id: string;
	tenant_id: string;
	object_key: string;
	features: number;
	vertices: number;
	bbox_json: string;
	bytes: number;
	created_at: string;
}

function toFieldSet(row: FieldSetRow): FieldSetRecord {
	return {
		id: row.id,
		tenantId: row.tenant_id,
		objectKey: row.object_key,
		features: row.features,
		vertices: row.vertices,
		bbox: JSON.parse(row.bbox_json) as FieldSetRecord["bbox"],
		bytes: row.bytes,
		createdAt: row.created_at,
	};
}

/**
 * Records a field set unless the tenant's stored sets, with it, would pass `maxFieldSets` sets
 * or `maxFieldVertices` positions; false when refused. One statement decides, so simultaneous
 * requests cannot together pass the quota.
 */
export async function insertFieldSetWithinQuota(
	db: D1Database,
	fieldSet: FieldSetRecord,
	quotas: { maxFieldSets: number; maxFieldVertices: number },
): Promise<boolean> {
	const result = await db
		.prepare(
			`INSERT INTO field_sets (id, tenant_id, features, vertices, bbox_json, object_key, bytes, created_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
			 WHERE (SELECT COUNT(*) FROM field_sets WHERE tenant_id = ?2) < ?9
			   AND (SELECT COALESCE(SUM(vertices), 0) FROM field_sets WHERE tenant_id = ?2) + ?4 <= ?10`,
		)
		.bind(
			fieldSet.id,
			fieldSet.tenantId,
			fieldSet.features,
			fieldSet.vertices,
			JSON.stringify(fieldSet.bbox),
			fieldSet.objectKey,
			fieldSet.bytes,
			fieldSet.createdAt,
			quotas.maxFieldSets,
			quotas.maxFieldVertices,
		)
		.run();
	return result.meta.changes > 0;
}

/** What the tenant's stored field sets hold, for the quota's message. */
export async function fieldSetUsage(db: D1Database, tenantId: string): Promise<{ sets: number; vertices: number }> {
	const row = await db
		.prepare("SELECT COUNT(*) AS sets, COALESCE(SUM(vertices), 0) AS vertices FROM field_sets WHERE tenant_id = ?")
		.bind(tenantId)
		.first<{ sets: number; vertices: number }>();
	return { sets: row?.sets ?? 0, vertices: row?.vertices ?? 0 };
}

/** The tenant's field set of this id, or null: another tenant's set does not exist. */
export async function findFieldSet(db: D1Database, tenantId: string, id: string): Promise<FieldSetRecord | null> {
	const row = await db
		.prepare("SELECT * FROM field_sets WHERE id = ? AND tenant_id = ?")
		.bind(id, tenantId)
		.first<FieldSetRow>();
	return row ? toFieldSet(row) : null;
}

/** A page of the tenant's field sets, newest first, starting after `after`. */
export async function listTenantFieldSets(
	db: D1Database,
	tenantId: string,
	page: { after: FieldSetCursor | null; limit: number },
): Promise<{ fieldSets: FieldSetRecord[]; next: FieldSetCursor | null }> {
	const { after, limit } = page;
	const { results } = await db
		.prepare(
			`SELECT * FROM field_sets WHERE tenant_id = ?1 AND (?2 IS NULL OR (created_at, id) < (?2, ?3))
			 ORDER BY created_at DESC, id DESC LIMIT ?4`,
		)
		.bind(tenantId, after?.createdAt ?? null, after?.id ?? null, limit + 1)
		.all<FieldSetRow>();
	const fieldSets = results.slice(0, limit).map(toFieldSet);
	const last = fieldSets.at(-1);
	return { fieldSets, next: results.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/** Deletes the tenant's field set row; false when there was none. */
export async function deleteFieldSetRow(db: D1Database, tenantId: string, id: string): Promise<boolean> {
	const result = await db.prepare("DELETE FROM field_sets WHERE id = ? AND tenant_id = ?").bind(id, tenantId).run();
	return result.meta.changes > 0;
}
