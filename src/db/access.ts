/**
 * SQL for access: tenants and their quotas, API keys, the rate-limit windows and the
 * idempotency records. Keys are looked up by hash only; the key itself is never stored.
 */
import type { Scope } from "../access/api-keys";

export interface TenantQuotas {
	maxConcurrentJobs: number;
	maxPixelsPerJob: number;
	maxUploadBytesPerDay: number;
	/** Per API key of the tenant, over the HTTP API. */
	maxRequestsPerMinute: number;
	/** Field sets stored at once (POST /v1/fields). */
	maxFieldSets: number;
	/** Positions summed over every field set stored. */
	maxFieldVertices: number;
}

export interface TenantRecord extends TenantQuotas {
	id: string;
	name: string;
	createdAt: string;
}

/** Who is calling: the key and the tenant it belongs to. */
export interface Principal {
	keyId: string;
	tenantId: string;
	scopes: Scope[];
	quotas: TenantQuotas;
}

export interface ApiKeyRecord {
	id: string;
	tenantId: string;
	tenantName: string;
	prefix: string;
	scopes: Scope[];
	label: string | null;
	createdAt: string;
	revokedAt: string | null;
}

interface TenantRow {
	id: string;
	name: string;
	max_concurrent_jobs: number;
	max_pixels_per_job: number;
	max_upload_bytes_per_day: number;
	max_requests_per_minute: number;
	max_field_sets: number;
	max_field_vertices: number;
	created_at: string;
}

function toTenant(row: TenantRow): TenantRecord {
	return {
		id: row.id,
		name: row.name,
		maxConcurrentJobs: row.max_concurrent_jobs,
		maxPixelsPerJob: row.max_pixels_per_job,
		maxUploadBytesPerDay: row.max_upload_bytes_per_day,
		maxRequestsPerMinute: row.max_requests_per_minute,
		maxFieldSets: row.max_field_sets,
		maxFieldVertices: row.max_field_vertices,
		createdAt: row.created_at,
	};
}

/** Creates the tenant, or returns the one of that name as it is. */
export async function ensureTenant(
	db: D1Database,
	tenant: { id: string; name: string; quotas: TenantQuotas; createdAt: string },
): Promise<TenantRecord> {
	await db
		.prepare(
			`INSERT INTO tenants (id, name, max_concurrent_jobs, max_pixels_per_job, max_upload_bytes_per_day,
			                      max_requests_per_minute, max_field_sets, max_field_vertices, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		)
		.bind(
			tenant.id,
			tenant.name,
			tenant.quotas.maxConcurrentJobs,
			tenant.quotas.maxPixelsPerJob,
			tenant.quotas.maxUploadBytesPerDay,
			tenant.quotas.maxRequestsPerMinute,
			tenant.quotas.maxFieldSets,
			tenant.quotas.maxFieldVertices,
			tenant.createdAt,
		)
		.run();
	const row = await db.prepare("SELECT * FROM tenants WHERE name = ?").bind(tenant.name).first<TenantRow>();
	if (!row) throw new Error(`tenant ${tenant.name} was not stored`);
	return toTenant(row);
}

export async function insertApiKey(
	db: D1Database,
	key: {
		id: string;
		tenantId: string;
		hash: string;
		prefix: string;
		scopes: Scope[];
		label: string | null;
		createdAt: string;
	},
): Promise<void> {
	await db
		.prepare(
			`INSERT INTO api_keys (id, tenant_id, key_hash, prefix, scopes, label, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key_hash) DO NOTHING`,
		)
		.bind(key.id, key.tenantId, key.hash, key.prefix, key.scopes.join(" "), key.label, key.createdAt)
		.run();
}

/**
 * Sets the scopes of the key with this hash: the development key, seeded once, gains the
 * scopes added since (an INSERT of a key already there changes nothing).
 */
export async function setApiKeyScopes(db: D1Database, keyHash: string, keyScopes: Scope[]): Promise<void> {
	await db.prepare("UPDATE api_keys SET scopes = ? WHERE key_hash = ?").bind(keyScopes.join(" "), keyHash).run();
}

/** Revokes a key by id; true when a live key was revoked. */
export async function revokeApiKey(db: D1Database, keyId: string, at: string): Promise<boolean> {
	const result = await db
		.prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
		.bind(at, keyId)
		.run();
	return result.meta.changes > 0;
}

export async function listApiKeys(db: D1Database, tenantName: string | null): Promise<ApiKeyRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT k.id, k.tenant_id, t.name AS tenant_name, k.prefix, k.scopes, k.label, k.created_at, k.revoked_at
			 FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
			 WHERE ?1 IS NULL OR t.name = ?1 ORDER BY k.created_at`,
		)
		.bind(tenantName)
		.all<{
			id: string;
			tenant_id: string;
			tenant_name: string;
			prefix: string;
			scopes: string;
			label: string | null;
			created_at: string;
			revoked_at: string | null;
		}>();
	return results.map((row) => ({
		id: row.id,
		tenantId: row.tenant_id,
		tenantName: row.tenant_name,
		prefix: row.prefix,
		scopes: row.scopes.split(" ") as Scope[],
		label: row.label,
		createdAt: row.created_at,
		revokedAt: row.revoked_at,
	}));
}

/** The live key with this hash and its tenant, or null (unknown or revoked). */
export async function findPrincipal(db: D1Database, keyHash: string): Promise<Principal | null> {
	const row = await db
		.prepare(
			`SELECT k.id AS key_id, k.scopes, t.id AS tenant_id, t.max_concurrent_jobs, t.max_pixels_per_job,
			        t.max_upload_bytes_per_day, t.max_requests_per_minute, t.max_field_sets, t.max_field_vertices
			 FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
			 WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
		)
		.bind(keyHash)
		.first<{
			key_id: string;
			scopes: string;
			tenant_id: string;
			max_concurrent_jobs: number;
			max_pixels_per_job: number;
			max_upload_bytes_per_day: number;
			max_requests_per_minute: number;
			max_field_sets: number;
			max_field_vertices: number;
		}>();
	if (!row) return null;
	return {
		keyId: row.key_id,
		tenantId: row.tenant_id,
		scopes: row.scopes.split(" ") as Scope[],
		quotas: {
			maxConcurrentJobs: row.max_concurrent_jobs,
			maxPixelsPerJob: row.max_pixels_per_job,
			maxUploadBytesPerDay: row.max_upload_bytes_per_day,
			maxRequestsPerMinute: row.max_requests_per_minute,
			maxFieldSets: row.max_field_sets,
			maxFieldVertices: row.max_field_vertices,
		},
	};
}

export async function findTenantQuotas(db: D1Database, tenantId: string): Promise<TenantQuotas | null> {
	const row = await db.prepare("SELECT * FROM tenants WHERE id = ?").bind(tenantId).first<TenantRow>();
	return row ? toTenant(row) : null;
}

/** Counts one request in the key's window and returns the window's count so far. */
export async function countRequest(db: D1Database, keyId: string, windowStart: number): Promise<number> {
	const row = await db
		.prepare(
			`INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, 1)
			 ON CONFLICT (key_id, window_start) DO UPDATE SET count = count + 1 RETURNING count`,
		)
		.bind(keyId, windowStart)
		.first<{ count: number }>();
	return row?.count ?? 1;
}

export async function deleteRateWindowsBefore(db: D1Database, windowStart: number): Promise<number> {
	const result = await db.prepare("DELETE FROM rate_windows WHERE window_start < ?").bind(windowStart).run();
	return result.meta.changes;
}

export interface IdempotencyRecord {
	requestHash: string | null;
	/** null until the first request stored its response. */
	response: { status: number; body: unknown; location: string | null } | null;
	/** What the first request created (a job or upload id), bound when it was recorded; null before. */
	resourceId: string | null;
	/** When the claim of a request still running lapses. */
	leaseUntil: string | null;
}

/** The claim a request holds on (tenant, operation, key), named by its token. */
export interface IdempotencyClaim {
	tenantId: string;
	operation: string;
	key: string;
	token: string;
}

/**
 * Claims (tenant, operation, key) for a new request: returns null when this request holds the
 * claim, or the record an earlier request left. Records older than `since` are replaced, and so
 * is a claim whose lease ran out with nothing created and no response stored (its request
 * crashed): one statement decides, so two retries cannot both take it over.
 */
export async function claimIdempotencyKey(
	db: D1Database,
	claim: IdempotencyClaim & { requestHash: string | null; at: string; leaseUntil: string; since: string },
): Promise<IdempotencyRecord | null> {
	await db
		.prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND operation = ? AND key = ? AND created_at < ?")
		.bind(claim.tenantId, claim.operation, claim.key, claim.since)
		.run();
	const claimed = await db
		.prepare(
			`INSERT INTO idempotency_keys (tenant_id, operation, key, request_hash, created_at, claim_token, lease_until)
			 VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (tenant_id, operation, key) DO UPDATE SET request_hash = excluded.request_hash,
			   created_at = excluded.created_at, claim_token = excluded.claim_token, lease_until = excluded.lease_until
			 WHERE idempotency_keys.status IS NULL AND idempotency_keys.resource_id IS NULL
			   AND COALESCE(idempotency_keys.lease_until, '') < excluded.created_at`,
		)
		.bind(claim.tenantId, claim.operation, claim.key, claim.requestHash, claim.at, claim.token, claim.leaseUntil)
		.run();
	if (claimed.meta.changes > 0) return null;
	const row = await db
		.prepare(
			`SELECT request_hash, status, response_json, location, resource_id, lease_until FROM idempotency_keys
			 WHERE tenant_id = ? AND operation = ? AND key = ?`,
		)
		.bind(claim.tenantId, claim.operation, claim.key)
		.first<{
			request_hash: string | null;
			status: number | null;
			response_json: string | null;
			location: string | null;
			resource_id: string | null;
			lease_until: string | null;
		}>();
	if (!row) return null;
	return {
		requestHash: row.request_hash,
		response:
			row.status === null || row.response_json === null
				? null
				: { status: row.status, body: JSON.parse(row.response_json), location: row.location },
		resourceId: row.resource_id,
		leaseUntil: row.lease_until,
	};
}

/** Stores the response for replays, if this request still holds the claim. */
export async function saveIdempotentResponse(
	db: D1Database,
	record: IdempotencyClaim & { requestHash: string; status: number; body: unknown; location: string | null },
): Promise<void> {
	await db
		.prepare(
			`UPDATE idempotency_keys SET request_hash = ?, status = ?, response_json = ?, location = ?
			 WHERE tenant_id = ? AND operation = ? AND key = ? AND claim_token = ?`,
		)
		.bind(
			record.requestHash,
			record.status,
			JSON.stringify(record.body),
			record.location,
			record.tenantId,
			record.operation,
			record.key,
			record.token,
		)
		.run();
}

/**
 * The statement that binds what a request created to its claim (and the request's hash, known
 * only once an upload's body was read), to run in the batch that records it: a retry then
 * finds it even if the response is never stored.
 */
export function bindIdempotentResource(
	db: D1Database,
	claim: IdempotencyClaim,
	resource: { id: string; requestHash: string },
): D1PreparedStatement {
	return db
		.prepare(
			`UPDATE idempotency_keys SET resource_id = ?, request_hash = ?
			 WHERE tenant_id = ? AND operation = ? AND key = ? AND claim_token = ?`,
		)
		.bind(resource.id, resource.requestHash, claim.tenantId, claim.operation, claim.key, claim.token);
}

/**
 * Gives a claim back after its request failed, so the client can retry with the same key; a
 * claim that already has a response or a created resource is kept.
 */
export async function releaseIdempotencyKey(db: D1Database, claim: IdempotencyClaim): Promise<void> {
	await db
		.prepare(
			`DELETE FROM idempotency_keys WHERE tenant_id = ? AND operation = ? AND key = ? AND claim_token = ?
			 AND status IS NULL AND resource_id IS NULL`,
		)
		.bind(claim.tenantId, claim.operation, claim.key, claim.token)
		.run();
}

export async function deleteIdempotencyKeysBefore(db: D1Database, before: string): Promise<number> {
	const result = await db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?").bind(before).run();
	return result.meta.changes;
}

/** What the tenant's uploads hold against today's quota, for the message of a refusal. */
export interface UploadUsage {
	/** Bytes of uploads stored since the start of the day, deleted ones included. */
	stored: number;
	/** Bytes declared by open upload sessions and uploads still streaming. */
	reserved: number;
}

/**
 * Reserves `bytes` of the tenant's daily upload quota, in one statement so that racing uploads
 * cannot all pass: uploads stored since `dayStart`, open sessions, other reservations and this
 * one must stay within `quota`. False when they would not. The reservation lapses at
 * `expiresAt`; {@link settleUploadReservation} or {@link dropUploadReservation} ends it sooner.
 */
export async function reserveUploadBytes(
	db: D1Database,
	reservation: { id: string; tenantId: string; bytes: number; dayStart: string; at: string; expiresAt: string },
	quota: number,
): Promise<boolean> {
	const result = await db
		.prepare(
			`INSERT INTO upload_reservations (id, tenant_id, bytes, expires_at)
			 SELECT ?4, ?1, ?5, ?6
			 WHERE (SELECT COALESCE(SUM(bytes), 0) FROM upload_quota_holds
			        WHERE tenant_id = ?1 AND (stored_at >= ?2 OR held_until > ?3)) + ?5 <= ?7`,
		)
		.bind(
			reservation.tenantId,
			reservation.dayStart,
			reservation.at,
			reservation.id,
			reservation.bytes,
			reservation.expiresAt,
			quota,
		)
		.run();
	return result.meta.changes > 0;
}

/** The statement that ends a reservation, to run in the batch that records what it was for. */
export function settleUploadReservation(db: D1Database, reservationId: string): D1PreparedStatement {
	return db.prepare("DELETE FROM upload_reservations WHERE id = ?").bind(reservationId);
}

/** Gives reserved bytes back after the upload failed. */
export async function dropUploadReservation(db: D1Database, reservationId: string): Promise<void> {
	await settleUploadReservation(db, reservationId).run();
}

export async function uploadUsage(
	db: D1Database,
	tenantId: string,
	dayStart: string,
	at: string,
): Promise<UploadUsage> {
	const row = await db
		.prepare(
			`SELECT COALESCE(SUM(CASE WHEN stored_at IS NOT NULL THEN bytes END), 0) AS stored,
			        COALESCE(SUM(CASE WHEN held_until IS NOT NULL THEN bytes END), 0) AS reserved
			 FROM upload_quota_holds WHERE tenant_id = ?1 AND (stored_at >= ?2 OR held_until > ?3)`,
		)
		.bind(tenantId, dayStart, at)
		.first<UploadUsage>();
	return { stored: row?.stored ?? 0, reserved: row?.reserved ?? 0 };
}

/** Forgets reservations whose upload crashed before settling them. */
export async function deleteUploadReservationsBefore(db: D1Database, before: string): Promise<number> {
	const result = await db.prepare("DELETE FROM upload_reservations WHERE expires_at <= ?").bind(before).run();
	return result.meta.changes;
}
