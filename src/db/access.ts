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
			                      max_requests_per_minute, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		)
		.bind(
			tenant.id,
			tenant.name,
			tenant.quotas.maxConcurrentJobs,
			tenant.quotas.maxPixelsPerJob,
			tenant.quotas.maxUploadBytesPerDay,
			tenant.quotas.maxRequestsPerMinute,
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
			        t.max_upload_bytes_per_day, t.max_requests_per_minute
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
	/** null while the first request is still running. */
	response: { status: number; body: unknown; location: string | null } | null;
}

/**
 * Claims (tenant, operation, key) for a new request: returns null when this request holds the
 * claim, or the record an earlier request left. Records older than `since` are replaced.
 */
export async function claimIdempotencyKey(
	db: D1Database,
	claim: { tenantId: string; operation: string; key: string; requestHash: string | null; at: string; since: string },
): Promise<IdempotencyRecord | null> {
	await db
		.prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND operation = ? AND key = ? AND created_at < ?")
		.bind(claim.tenantId, claim.operation, claim.key, claim.since)
		.run();
	const inserted = await db
		.prepare(
			`INSERT INTO idempotency_keys (tenant_id, operation, key, request_hash, created_at) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT (tenant_id, operation, key) DO NOTHING`,
		)
		.bind(claim.tenantId, claim.operation, claim.key, claim.requestHash, claim.at)
		.run();
	if (inserted.meta.changes > 0) return null;
	const row = await db
		.prepare(
			"SELECT request_hash, status, response_json, location FROM idempotency_keys WHERE tenant_id = ? AND operation = ? AND key = ?",
		)
		.bind(claim.tenantId, claim.operation, claim.key)
		.first<{
			request_hash: string | null;
			status: number | null;
			response_json: string | null;
			location: string | null;
		}>();
	if (!row) return null;
	return {
		requestHash: row.request_hash,
		response:
			row.status === null || row.response_json === null
				? null
				: { status: row.status, body: JSON.parse(row.response_json), location: row.location },
	};
}

export async function saveIdempotentResponse(
	db: D1Database,
	record: {
		tenantId: string;
		operation: string;
		key: string;
		requestHash: string;
		status: number;
		body: unknown;
		location: string | null;
	},
): Promise<void> {
	await db
		.prepare(
			`UPDATE idempotency_keys SET request_hash = ?, status = ?, response_json = ?, location = ?
			 WHERE tenant_id = ? AND operation = ? AND key = ?`,
		)
		.bind(
			record.requestHash,
			record.status,
			JSON.stringify(record.body),
			record.location,
			record.tenantId,
			record.operation,
			record.key,
		)
		.run();
}

/** Gives a claim back after the request failed, so the client can retry with the same key. */
export async function releaseIdempotencyKey(
	db: D1Database,
	claim: { tenantId: string; operation: string; key: string },
): Promise<void> {
	await db
		.prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND operation = ? AND key = ? AND status IS NULL")
		.bind(claim.tenantId, claim.operation, claim.key)
		.run();
}

export async function deleteIdempotencyKeysBefore(db: D1Database, before: string): Promise<number> {
	const result = await db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?").bind(before).run();
	return result.meta.changes;
}

/** Jobs of the tenant still queued or running. */
export async function countLiveJobs(db: D1Database, tenantId: string): Promise<number> {
	const row = await db
		.prepare("SELECT COUNT(*) AS live FROM jobs WHERE tenant_id = ? AND status IN ('queued', 'running')")
		.bind(tenantId)
		.first<{ live: number }>();
	return row?.live ?? 0;
}

/** Bytes the tenant has uploaded since `since` (an ISO time). */
export async function uploadedBytesSince(db: D1Database, tenantId: string, since: string): Promise<number> {
	const row = await db
		.prepare("SELECT COALESCE(SUM(bytes), 0) AS bytes FROM uploads WHERE tenant_id = ? AND created_at >= ?")
		.bind(tenantId, since)
		.first<{ bytes: number }>();
	return row?.bytes ?? 0;
}
