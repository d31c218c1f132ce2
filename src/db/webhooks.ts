/**
 * SQL of webhooks: a tenant's endpoints (within its limit), the outbox of deliveries owed to them
 * and the attempts at each. The statements that owe a delivery are written into the same D1 batch
 * as the job change they announce (src/db/jobs.ts), so a job never changes without its deliveries
 * being recorded, and a change that does not land records none.
 */
import { now, placeholders } from "./sql";

export type WebhookEvent = "job.succeeded" | "job.failed" | "job.canceled" | "job.progress";

export interface WebhookEndpointRecord {
	id: string;
	tenantId: string;
	url: string;
	events: WebhookEvent[];
	/** The signing secret, sealed (src/webhooks/secrets.ts). */
	secretSealed: string;
	/** The secret before the last rotation, which still signs until previousExpiresAt. */
	previousSecretSealed: string | null;
	previousExpiresAt: string | null;
	disabledAt: string | null;
	disabledReason: string | null;
	createdAt: string;
	updatedAt: string;
}

export interface WebhookCursor {
	createdAt: string;
	id: string;
}

interface EndpointRow {
	id: string;
	tenant_id: string;
	url: string;
	events_json: string;
	secret_sealed: string;
	previous_secret_sealed: string | null;
	previous_expires_at: string | null;
	disabled_at: string | null;
	disabled_reason: string | null;
	created_at: string;
	updated_at: string;
}

function toEndpoint(row: EndpointRow): WebhookEndpointRecord {
	return {
		id: row.id,
		tenantId: row.tenant_id,
		url: row.url,
		events: JSON.parse(row.events_json) as WebhookEvent[],
		secretSealed: row.secret_sealed,
		previousSecretSealed: row.previous_secret_sealed,
		previousExpiresAt: row.previous_expires_at,
		disabledAt: row.disabled_at,
		disabledReason: row.disabled_reason,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
}

/**
 * Records an endpoint unless the tenant already has `maxEndpoints`; false when refused. One
 * statement decides, so simultaneous registrations cannot together pass the limit.
 */
export async function insertWebhookWithinLimit(
	db: D1Database,
	endpoint: WebhookEndpointRecord,
	maxEndpoints: number,
): Promise<boolean> {
	const result = await db
		.prepare(
			`INSERT INTO webhook_endpoints (id, tenant_id, url, events_json, secret_sealed, created_at, updated_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?6
			 WHERE (SELECT COUNT(*) FROM webhook_endpoints WHERE tenant_id = ?2) < ?7`,
		)
		.bind(
			endpoint.id,
			endpoint.tenantId,
			endpoint.url,
			JSON.stringify(endpoint.events),
			endpoint.secretSealed,
			endpoint.createdAt,
			maxEndpoints,
		)
		.run();
	return result.meta.changes > 0;
}

/** The tenant's endpoint of this id, or null: another tenant's endpoint does not exist. */
export async function findWebhook(db: D1Database, tenantId: string, id: string): Promise<WebhookEndpointRecord | null> {
	const row = await db
		.prepare("SELECT * FROM webhook_endpoints WHERE id = ? AND tenant_id = ?")
		.bind(id, tenantId)
		.first<EndpointRow>();
	return row ? toEndpoint(row) : null;
}

/** Of `ids`, those that are the tenant's enabled endpoints. */
export async function enabledWebhookIds(
	db: D1Database,
	tenantId: string,
	ids: readonly string[],
): Promise<Set<string>> {
	if (ids.length === 0) return new Set();
	const { results } = await db
		.prepare(
			`SELECT id FROM webhook_endpoints WHERE tenant_id = ? AND disabled_at IS NULL AND id IN (${placeholders(ids)})`,
		)
		.bind(tenantId, ...ids)
		.all<{ id: string }>();
	return new Set(results.map((row) => row.id));
}

/** A page of the tenant's endpoints, newest first, starting after `after`. */
export async function listTenantWebhooks(
	db: D1Database,
	tenantId: string,
	page: { after: WebhookCursor | null; limit: number },
): Promise<{ endpoints: WebhookEndpointRecord[]; next: WebhookCursor | null }> {
	const { after, limit } = page;
	const { results } = await db
		.prepare(
			`SELECT * FROM webhook_endpoints WHERE tenant_id = ?1 AND (?2 IS NULL OR (created_at, id) < (?2, ?3))
			 ORDER BY created_at DESC, id DESC LIMIT ?4`,
		)
		.bind(tenantId, after?.createdAt ?? null, after?.id ?? null, limit + 1)
		.all<EndpointRow>();
	const endpoints = results.slice(0, limit).map(toEndpoint);
	const last = endpoints.at(-1);
	return { endpoints, next: results.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/**
 * Deletes the tenant's endpoint with its deliveries and their attempts; false when there was none.
 * Queue messages still on their way find no delivery and are dropped.
 */
export async function deleteWebhook(db: D1Database, tenantId: string, id: string): Promise<boolean> {
	const results = await db.batch([
		db
			.prepare(
				"DELETE FROM webhook_attempts WHERE endpoint_id IN (SELECT id FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2)",
			)
			.bind(id, tenantId),
		db
			.prepare(
				"DELETE FROM webhook_messages WHERE endpoint_id IN (SELECT id FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2)",
			)
			.bind(id, tenantId),
		db.prepare("DELETE FROM webhook_endpoints WHERE id = ?1 AND tenant_id = ?2").bind(id, tenantId),
	]);
	return (results[2]?.meta.changes ?? 0) > 0;
}

/**
 * Replaces the endpoint's secret; the current one becomes the previous, signing beside the new
 * one until `previousExpiresAt`. Null when the tenant has no such endpoint.
 */
export async function rotateWebhookSecret(
	db: D1Database,
	tenantId: string,
	id: string,
	secretSealed: string,
	previousExpiresAt: string,
): Promise<WebhookEndpointRecord | null> {
	const row = await db
		.prepare(
			`UPDATE webhook_endpoints SET previous_secret_sealed = secret_sealed, previous_expires_at = ?3,
			   secret_sealed = ?4, updated_at = ?5
			 WHERE id = ?1 AND tenant_id = ?2 RETURNING *`,
		)
		.bind(id, tenantId, previousExpiresAt, secretSealed, now())
		.first<EndpointRow>();
	return row ? toEndpoint(row) : null;
}

// ---------------------------------------------------------------------------------------------
// The outbox

/**
 * Owes `event` of job `jobId` to every enabled endpoint of the job's tenant that subscribes to it
 * (only those of the job's notify.webhook_ids when it names some), provided the job row says
 * `status` and was updated at `updatedAt`: written after the job's own UPDATE in one batch, it
 * owes nothing when that UPDATE did not land. The unique (endpoint, job, event) key makes a
 * repeat write nothing, so one event is one delivery, one webhook-id, per endpoint.
 */
export function owedTerminalEventStatement(
	db: D1Database,
	jobId: string,
	event: Exclude<WebhookEvent, "job.progress">,
	status: string,
	updatedAt: string,
): D1PreparedStatement {
	return db
		.prepare(
			`INSERT OR IGNORE INTO webhook_messages
			   (id, endpoint_id, tenant_id, job_id, event_type, stage, event_key, trace_id, created_at, due_at)
			 SELECT 'msg_' || lower(hex(randomblob(12))), e.id, e.tenant_id, j.id, ?2, NULL, ?2, j.trace_id, ?4, ?4
			 FROM jobs j JOIN webhook_endpoints e ON e.tenant_id = j.tenant_id
			 WHERE j.id = ?1 AND j.status = ?3 AND j.updated_at = ?4 AND e.disabled_at IS NULL
			   AND EXISTS (SELECT 1 FROM json_each(e.events_json) WHERE value = ?2)
			   AND (json_type(j.request_json, '$.notify.webhook_ids') IS NULL
			        OR e.id IN (SELECT value FROM json_each(j.request_json, '$.notify.webhook_ids')))`,
		)
		.bind(jobId, event, status, updatedAt);
}

/**
 * Owes job.progress for the stage a live job is leaving, when it moves on to `nextStage` (one of
 * `reachable`, see markStageRunning): written before the job's UPDATE in one batch, it reads the
 * stage the UPDATE replaces. At most one per stage: a later move out of the same stage (a late
 * duplicate message) writes nothing.
 */
export function owedProgressStatement(
	db: D1Database,
	jobId: string,
	nextStage: string,
	reachable: readonly string[],
	at: string,
): D1PreparedStatement {
	return db
		.prepare(
			`INSERT OR IGNORE INTO webhook_messages
			   (id, endpoint_id, tenant_id, job_id, event_type, stage, event_key, trace_id, created_at, due_at)
			 SELECT 'msg_' || lower(hex(randomblob(12))), e.id, e.tenant_id, j.id, 'job.progress', j.stage,
			        'job.progress:' || j.stage, j.trace_id, ?, ?
			 FROM jobs j JOIN webhook_endpoints e ON e.tenant_id = j.tenant_id
			 WHERE j.id = ? AND j.status = 'running' AND j.stage IS NOT NULL AND j.stage <> ?
			   AND j.stage IN (${placeholders(reachable)}) AND e.disabled_at IS NULL
			   AND EXISTS (SELECT 1 FROM json_each(e.events_json) WHERE value = 'job.progress')
			   AND (json_type(j.request_json, '$.notify.webhook_ids') IS NULL
			        OR e.id IN (SELECT value FROM json_each(j.request_json, '$.notify.webhook_ids')))`,
		)
		.bind(at, at, jobId, nextStage, ...reachable);
}

/** A delivery's queue message: which delivery, which attempt, and the job's trace for the logs. */
export interface WebhookSend {
	webhook_message_id: string;
	attempt: number;
	job_id: string;
	trace_id: string;
}

/** The job's deliveries whose first attempt has not been queued yet. */
export async function listUnsentWebhooks(db: D1Database, jobId: string): Promise<WebhookSend[]> {
	const { results } = await db
		.prepare(
			`SELECT id, job_id, trace_id FROM webhook_messages
			 WHERE job_id = ? AND status = 'pending' AND attempts = 0 AND sent_at IS NULL`,
		)
		.bind(jobId)
		.all<{ id: string; job_id: string; trace_id: string }>();
	return results.map((row) => ({ webhook_message_id: row.id, attempt: 1, job_id: row.job_id, trace_id: row.trace_id }));
}

/**
 * Pending deliveries whose next attempt is overdue: never queued since `unsentBefore` (the worker
 * stopped between the job's batch and the send), or due before `dueBefore` without an attempt
 * having claimed it (a lost queue message). Oldest first.
 */
export async function listOverdueWebhooks(
	db: D1Database,
	cutoffs: { unsentBefore: string; dueBefore: string },
	limit: number,
): Promise<WebhookSend[]> {
	const { results } = await db
		.prepare(
			`SELECT id, job_id, trace_id, attempts FROM webhook_messages
			 WHERE status = 'pending' AND ((sent_at IS NULL AND due_at < ?1) OR due_at < ?2)
			 ORDER BY due_at LIMIT ?3`,
		)
		.bind(cutoffs.unsentBefore, cutoffs.dueBefore, limit)
		.all<{ id: string; job_id: string; trace_id: string; attempts: number }>();
	return results.map((row) => ({
		webhook_message_id: row.id,
		attempt: row.attempts + 1,
		job_id: row.job_id,
		trace_id: row.trace_id,
	}));
}

/** Records that these deliveries' next attempts were queued, due by `dueAt`. */
export async function markWebhooksSent(db: D1Database, ids: readonly string[], dueAt: string): Promise<void> {
	if (ids.length === 0) return;
	await db
		.prepare(
			`UPDATE webhook_messages SET sent_at = ?, due_at = ? WHERE status = 'pending' AND id IN (${placeholders(ids)})`,
		)
		.bind(now(), dueAt, ...ids)
		.run();
}

/** Gives up on pending deliveries created before `before` whatever their state (the cron's bound). */
export async function expireWebhooks(db: D1Database, before: string): Promise<number> {
	const result = await db
		.prepare("UPDATE webhook_messages SET status = 'failed' WHERE status = 'pending' AND created_at < ?")
		.bind(before)
		.run();
	return result.meta.changes;
}

/** What one attempt needs: the delivery, its endpoint and its job's links. */
export interface ClaimedWebhook {
	id: string;
	endpoint: WebhookEndpointRecord | null;
	jobId: string;
	event: WebhookEvent;
	stage: string | null;
	createdAt: string;
	attempt: number;
	/** The job's base_url (PUBLIC_BASE_URL or the origin it was submitted to), null for old jobs. */
	baseUrl: string | null;
	jobStatus: string | null;
}

/**
 * Takes attempt `attempt` of a pending delivery, due again at `leaseUntil` should this attempt
 * never report: only one invocation can take an attempt, so a duplicated queue message sends
 * nothing twice. Null when the delivery is not pending or this attempt was taken already.
 */
export async function claimWebhookAttempt(
	db: D1Database,
	messageId: string,
	attempt: number,
	leaseUntil: string,
): Promise<ClaimedWebhook | null> {
	const claimed = await db
		.prepare(
			`UPDATE webhook_messages SET attempts = ?2, due_at = ?3
			 WHERE id = ?1 AND status = 'pending' AND attempts = ?2 - 1
			 RETURNING id, endpoint_id, job_id, event_type, stage, created_at, attempts`,
		)
		.bind(messageId, attempt, leaseUntil)
		.first<{
			id: string;
			endpoint_id: string;
			job_id: string;
			event_type: WebhookEvent;
			stage: string | null;
			created_at: string;
			attempts: number;
		}>();
	if (!claimed) return null;
	const [endpoint, job] = await db.batch([
		db.prepare("SELECT * FROM webhook_endpoints WHERE id = ?").bind(claimed.endpoint_id),
		db
			.prepare("SELECT status, json_extract(request_json, '$.base_url') AS base_url FROM jobs WHERE id = ?")
			.bind(claimed.job_id),
	]);
	const endpointRow = (endpoint?.results as EndpointRow[] | undefined)?.[0];
	const jobRow = (job?.results as { status: string; base_url: string | null }[] | undefined)?.[0];
	return {
		id: claimed.id,
		endpoint: endpointRow ? toEndpoint(endpointRow) : null,
		jobId: claimed.job_id,
		event: claimed.event_type,
		stage: claimed.stage,
		createdAt: claimed.created_at,
		attempt: claimed.attempts,
		baseUrl: jobRow?.base_url ?? null,
		jobStatus: jobRow?.status ?? null,
	};
}

export type AttemptOutcome = "delivered" | "failed" | "unreachable";

/** One attempt's result, and what becomes of its delivery. */
export interface AttemptRecord {
	id: string;
	messageId: string;
	endpointId: string;
	event: WebhookEvent;
	jobId: string;
	attempt: number;
	attemptedAt: string;
	outcome: AttemptOutcome;
	httpStatus: number | null;
	latencyMs: number;
	/** When the next attempt is due; null when there is none. */
	nextRetryAt: string | null;
	/** The delivery's state after it: pending (retried at nextRetryAt), delivered or failed. */
	messageStatus: "pending" | "delivered" | "failed";
	/** Why the endpoint is disabled by this attempt (a 410), or null. */
	disableEndpoint: string | null;
}

/** Records an attempt, its delivery's new state and, on a 410, the endpoint disabled, in one batch. */
export async function recordWebhookAttempt(db: D1Database, attempt: AttemptRecord): Promise<void> {
	await db.batch([
		db
			.prepare(
				`INSERT INTO webhook_attempts (id, message_id, endpoint_id, event_type, job_id, attempt, attempted_at,
				   outcome, http_status, latency_ms, next_retry_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			)
			.bind(
				attempt.id,
				attempt.messageId,
				attempt.endpointId,
				attempt.event,
				attempt.jobId,
				attempt.attempt,
				attempt.attemptedAt,
				attempt.outcome,
				attempt.httpStatus,
				attempt.latencyMs,
				attempt.nextRetryAt,
			),
		db
			.prepare(
				`UPDATE webhook_messages SET status = ?2, due_at = COALESCE(?3, due_at), sent_at = ?4
				 WHERE id = ?1 AND attempts = ?5`,
			)
			.bind(attempt.messageId, attempt.messageStatus, attempt.nextRetryAt, attempt.attemptedAt, attempt.attempt),
		...(attempt.disableEndpoint
			? [
					db
						.prepare(
							`UPDATE webhook_endpoints SET disabled_at = ?2, disabled_reason = ?3, updated_at = ?2
							 WHERE id = ?1 AND disabled_at IS NULL`,
						)
						.bind(attempt.endpointId, attempt.attemptedAt, attempt.disableEndpoint),
					db
						.prepare("UPDATE webhook_messages SET status = 'failed' WHERE endpoint_id = ? AND status = 'pending'")
						.bind(attempt.endpointId),
				]
			: []),
	]);
}

/** Ends a delivery that cannot be attempted (its endpoint deleted or disabled meanwhile). */
export async function abandonWebhook(db: D1Database, messageId: string): Promise<void> {
	await db
		.prepare("UPDATE webhook_messages SET status = 'failed' WHERE id = ? AND status = 'pending'")
		.bind(messageId)
		.run();
}

interface AttemptRow {
	id: string;
	message_id: string;
	endpoint_id: string;
	event_type: WebhookEvent;
	job_id: string;
	attempt: number;
	attempted_at: string;
	outcome: AttemptOutcome;
	http_status: number | null;
	latency_ms: number;
	next_retry_at: string | null;
}

export type WebhookAttempt = Omit<AttemptRecord, "messageStatus" | "disableEndpoint">;

/** A page of an endpoint's attempts, newest first, starting after `after`. */
export async function listWebhookAttempts(
	db: D1Database,
	endpointId: string,
	page: { after: WebhookCursor | null; limit: number },
): Promise<{ attempts: WebhookAttempt[]; next: WebhookCursor | null }> {
	const { after, limit } = page;
	const { results } = await db
		.prepare(
			`SELECT * FROM webhook_attempts WHERE endpoint_id = ?1 AND (?2 IS NULL OR (attempted_at, id) < (?2, ?3))
			 ORDER BY attempted_at DESC, id DESC LIMIT ?4`,
		)
		.bind(endpointId, after?.createdAt ?? null, after?.id ?? null, limit + 1)
		.all<AttemptRow>();
	const attempts = results.slice(0, limit).map((row) => ({
		id: row.id,
		messageId: row.message_id,
		endpointId: row.endpoint_id,
		event: row.event_type,
		jobId: row.job_id,
		attempt: row.attempt,
		attemptedAt: row.attempted_at,
		outcome: row.outcome,
		httpStatus: row.http_status,
		latencyMs: row.latency_ms,
		nextRetryAt: row.next_retry_at,
	}));
	const last = attempts.at(-1);
	return { attempts, next: results.length > limit && last ? { createdAt: last.attemptedAt, id: last.id } : null };
}

/**
 * Forgets up to `limit` attempts, and up to `limit` settled deliveries, from before `before`;
 * how many rows went. A pending delivery is kept whatever its age (the cron gives it up first).
 */
export async function deleteWebhookHistoryBefore(db: D1Database, before: string, limit: number): Promise<number> {
	const [attempts, messages] = await db.batch([
		db
			.prepare(
				"DELETE FROM webhook_attempts WHERE id IN (SELECT id FROM webhook_attempts WHERE attempted_at < ? LIMIT ?)",
			)
			.bind(before, limit),
		db
			.prepare(
				`DELETE FROM webhook_messages WHERE id IN
				   (SELECT id FROM webhook_messages WHERE status <> 'pending' AND created_at < ? LIMIT ?)`,
			)
			.bind(before, limit),
	]);
	return (attempts?.meta.changes ?? 0) + (messages?.meta.changes ?? 0);
}
