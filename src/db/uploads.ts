/** SQL of uploads: recording, finding and expiring stored rasters. */
import type { RasterSummary } from "../raster/inspect";
import { now, placeholders } from "./sql";

export interface UploadRecord {
	id: string;
	objectKey: string;
	bytes: number;
	raster: RasterSummary;
	createdAt: string;
}

/**
 * Records a stored upload; `alongside` runs in the same transaction: ending the quota
 * reservation the upload held (so its bytes are never counted twice or not at all) and
 * binding it to its Idempotency-Key.
 */
export async function insertUpload(
	db: D1Database,
	upload: UploadRecord,
	owner: { tenantId: string; traceId: string },
	alongside: readonly D1PreparedStatement[] = [],
): Promise<void> {
	await db.batch([uploadInsert(db, upload, owner, { onlyFromOpenSession: false }), ...alongside]);
}

/**
 * The INSERT of an upload row; with `onlyFromOpenSession`, it inserts nothing unless the
 * tenant's upload session of the same id is still open.
 */
export function uploadInsert(
	db: D1Database,
	upload: UploadRecord,
	owner: { tenantId: string; traceId: string },
	{ onlyFromOpenSession }: { onlyFromOpenSession: boolean },
): D1PreparedStatement {
	return db
		.prepare(
			`INSERT INTO uploads (id, tenant_id, object_key, bytes, raster_json, trace_id, created_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
			 WHERE ?8 = 0 OR EXISTS (SELECT 1 FROM upload_sessions WHERE id = ?1 AND tenant_id = ?2 AND status = 'open')`,
		)
		.bind(
			upload.id,
			owner.tenantId,
			upload.objectKey,
			upload.bytes,
			JSON.stringify(upload.raster),
			owner.traceId,
			upload.createdAt,
			onlyFromOpenSession ? 1 : 0,
		);
}

/** The tenant's uploads among `ids` that are still kept; others' and expired ones are absent. */
export async function findUploads(
	db: D1Database,
	tenantId: string,
	ids: readonly string[],
): Promise<Map<string, UploadRecord>> {
	if (ids.length === 0) return new Map();
	const { results } = await db
		.prepare(
			`SELECT id, object_key, bytes, raster_json, created_at FROM uploads
			 WHERE tenant_id = ? AND expired_at IS NULL AND id IN (${placeholders(ids)})`,
		)
		.bind(tenantId, ...ids)
		.all<{ id: string; object_key: string; bytes: number; raster_json: string; created_at: string }>();
	return new Map(
		results.map((row) => [
			row.id,
			{
				id: row.id,
				objectKey: row.object_key,
				bytes: row.bytes,
				raster: JSON.parse(row.raster_json) as RasterSummary,
				createdAt: row.created_at,
			},
		]),
	);
}

/** Uploads created before `before` and not yet expired, oldest first. */
export async function listUploadsToExpire(
	db: D1Database,
	before: string,
	limit: number,
): Promise<{ id: string; objectKey: string }[]> {
	const { results } = await db
		.prepare(
			"SELECT id, object_key FROM uploads WHERE created_at < ? AND expired_at IS NULL ORDER BY created_at LIMIT ?",
		)
		.bind(before, limit)
		.all<{ id: string; object_key: string }>();
	return results.map((row) => ({ id: row.id, objectKey: row.object_key }));
}

export async function markUploadsExpired(db: D1Database, uploadIds: readonly string[]): Promise<void> {
	if (uploadIds.length === 0) return;
	await db
		.prepare(`UPDATE uploads SET expired_at = ? WHERE id IN (${placeholders(uploadIds)})`)
		.bind(now(), ...uploadIds)
		.run();
}
