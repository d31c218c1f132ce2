/** SQL of multipart upload sessions and their parts. */
import { insertUpload, type UploadRecord, uploadInsert } from "./uploads";

export type UploadSessionStatus = "open" | "completed" | "aborted";

/** An upload in parts: the R2 multipart upload behind it and how the file is cut. */
export interface UploadSessionRecord {
	id: string;
	objectKey: string;
	multipartId: string;
	bytes: number;
	partBytes: number;
	status: UploadSessionStatus;
	createdAt: string;
	/** After this the session takes no parts and no longer holds quota; the sweeper aborts it. */
	expiresAt: string;
	/** When the sweeper aborted it for having expired; null otherwise. */
	expiredAt: string | null;
}

export interface UploadPartRecord {
	number: number;
	bytes: number;
	etag: string;
}

/** Records an open session; `settle` runs in the same transaction (see {@link insertUpload}). */
export async function insertUploadSession(
	db: D1Database,
	session: Omit<UploadSessionRecord, "expiredAt">,
	owner: { tenantId: string; traceId: string },
	settle: D1PreparedStatement,
): Promise<void> {
	const insert = db
		.prepare(
			`INSERT INTO upload_sessions (id, tenant_id, object_key, multipart_id, bytes, part_bytes, status, trace_id,
			                              created_at, expires_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			session.id,
			owner.tenantId,
			session.objectKey,
			session.multipartId,
			session.bytes,
			session.partBytes,
			session.status,
			owner.traceId,
			session.createdAt,
			session.expiresAt,
		);
	await db.batch([insert, settle]);
}

interface UploadSessionRow {
	id: string;
	object_key: string;
	multipart_id: string;
	bytes: number;
	part_bytes: number;
	status: UploadSessionStatus;
	created_at: string;
	expires_at: string;
	expired_at: string | null;
}

function toUploadSession(row: UploadSessionRow): UploadSessionRecord {
	return {
		id: row.id,
		objectKey: row.object_key,
		multipartId: row.multipart_id,
		bytes: row.bytes,
		partBytes: row.part_bytes,
		status: row.status,
		createdAt: row.created_at,
		expiresAt: row.expires_at,
		expiredAt: row.expired_at,
	};
}

/** The tenant's upload session; another tenant's does not exist. */
export async function getUploadSession(
	db: D1Database,
	tenantId: string,
	id: string,
): Promise<UploadSessionRecord | null> {
	const row = await db
		.prepare(
			`SELECT id, object_key, multipart_id, bytes, part_bytes, status, created_at, expires_at, expired_at
			 FROM upload_sessions WHERE id = ? AND tenant_id = ?`,
		)
		.bind(id, tenantId)
		.first<UploadSessionRow>();
	return row ? toUploadSession(row) : null;
}

/** Records a received part; sending a part again replaces it, as R2 does. */
export async function saveUploadPart(db: D1Database, uploadId: string, part: UploadPartRecord): Promise<void> {
	await db
		.prepare(
			`INSERT INTO upload_parts (upload_id, part_number, bytes, etag) VALUES (?, ?, ?, ?)
			 ON CONFLICT (upload_id, part_number) DO UPDATE SET bytes = excluded.bytes, etag = excluded.etag`,
		)
		.bind(uploadId, part.number, part.bytes, part.etag)
		.run();
}

export async function listUploadParts(db: D1Database, uploadId: string): Promise<UploadPartRecord[]> {
	const { results } = await db
		.prepare("SELECT part_number, bytes, etag FROM upload_parts WHERE upload_id = ? ORDER BY part_number")
		.bind(uploadId)
		.all<{ part_number: number; bytes: number; etag: string }>();
	return results.map((row) => ({ number: row.part_number, bytes: row.bytes, etag: row.etag }));
}

/**
 * Ends an open session; returns false when it was no longer open. An aborted session forgets
 * its parts (their R2 multipart upload is aborted by the caller); `expiredAt` marks one the
 * sweeper ended.
 */
export async function closeUploadSession(
	db: D1Database,
	id: string,
	status: Exclude<UploadSessionStatus, "open">,
	expiredAt: string | null = null,
): Promise<boolean> {
	const [closed] = await db.batch([
		db
			.prepare("UPDATE upload_sessions SET status = ?, expired_at = ? WHERE id = ? AND status = 'open'")
			.bind(status, expiredAt, id),
		...(status === "aborted" ? [db.prepare("DELETE FROM upload_parts WHERE upload_id = ?").bind(id)] : []),
	]);
	return (closed?.meta.changes ?? 0) > 0;
}

/**
 * Records the upload an open session's parts became and closes the session as completed, in
 * one transaction, so the two never disagree: false (and nothing written) when the session was
 * no longer open, e.g. a concurrent completion got there first.
 */
export async function completeUploadSession(
	db: D1Database,
	upload: UploadRecord,
	owner: { tenantId: string; traceId: string },
): Promise<boolean> {
	const [inserted] = await db.batch([
		uploadInsert(db, upload, owner, { onlyFromOpenSession: true }),
		db.prepare("UPDATE upload_sessions SET status = 'completed' WHERE id = ? AND status = 'open'").bind(upload.id),
	]);
	return (inserted?.meta.changes ?? 0) > 0;
}

/** Open sessions that expired at or before `at`, oldest first: the sweeper aborts them. */
export async function listExpiredUploadSessions(
	db: D1Database,
	at: string,
	limit: number,
): Promise<UploadSessionRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT id, object_key, multipart_id, bytes, part_bytes, status, created_at, expires_at, expired_at
			 FROM upload_sessions WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
		)
		.bind(at, limit)
		.all<UploadSessionRow>();
	return results.map(toUploadSession);
}

/**
 * Deletes up to `limit` completed or aborted upload sessions created before `before`, with
 * their parts; returns how many sessions went. Open sessions are left to their own expiry.
 */
export async function deleteEndedUploadSessions(db: D1Database, before: string, limit: number): Promise<number> {
	// Both statements pick the same sessions: the transaction sees no other writer between them,
	// and deleting parts does not change which sessions match.
	const [, sessions] = await db.batch([
		db
			.prepare(
				`DELETE FROM upload_parts WHERE upload_id IN (SELECT id FROM upload_sessions
				 WHERE status IN ('completed', 'aborted') AND created_at < ? ORDER BY created_at LIMIT ?)`,
			)
			.bind(before, limit),
		db
			.prepare(
				`DELETE FROM upload_sessions WHERE id IN (SELECT id FROM upload_sessions
				 WHERE status IN ('completed', 'aborted') AND created_at < ? ORDER BY created_at LIMIT ?)`,
			)
			.bind(before, limit),
	]);
	return sessions?.meta.changes ?? 0;
}
