/**
 * Every SQL statement EO Edge runs, named. Nothing outside src/db/ writes SQL; callers get
 * typed rows and never see column encodings (JSON columns are parsed here).
 */
import type { Problem } from "../errors/api-error";
import type { CompiledFormula } from "../indices/formula";
import type { JobPlan } from "../pipeline/plan";
import { type StageName, stageNames } from "../pipeline/stages";
import type { RasterSummary } from "../raster/inspect";

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";
const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "canceled"];

export function isTerminal(status: JobStatus): boolean {
	return TERMINAL.includes(status);
}

export interface UploadRecord {
	id: string;
	objectKey: string;
	bytes: number;
	raster: RasterSummary;
	createdAt: string;
}

/** One input as the client asked for it: an upload, or a remote COG by its href. */
export type JobInputRequest = (
	| { upload_id: string; href?: undefined; band: number }
	| { href: string; upload_id?: undefined; band: number }
) & {
	/** The formula sees sample * scale + offset. */
	scale: number;
	offset: number;
};

export interface JobRequest {
	/** The catalog id as requested, or absent for a custom expression. */
	index?: string | undefined;
	expression?: string | undefined;
	constants?: Record<string, number> | undefined;
	inputs: Record<string, JobInputRequest>;
	nodata?: number | undefined;
	/** Hosts the job's remote inputs, and every redirect they take, may reach. */
	remote?: { allowed_hosts: string[] } | undefined;
	/** stats.json's histogram: fixed edges, or (without `range`) edges over the job's own values. */
	histogram?: { range?: [number, number] | undefined; bins: number } | undefined;
}

/** A warning on a job's result (the contract's JobWarning). */
export interface JobWarningRecord {
	code: string;
	input?: string | undefined;
	message: string;
}

export interface JobRecord {
	id: string;
	/** null only for jobs from before tenancy, which no key can see. */
	tenantId: string | null;
	/** The catalog index id, or EXPRESSION_INDEX for a custom expression. */
	indexId: string;
	request: JobRequest;
	/** Compiled at creation; null only for jobs created before formulas were stored (0004). */
	formula: CompiledFormula | null;
	/** What its result looks wrong for, recorded when it succeeds. */
	warnings: JobWarningRecord[];
	status: JobStatus;
	stage: StageName | null;
	progress: number;
	error: Problem | null;
	plan: JobPlan | null;
	traceId: string;
	createdAt: string;
	updatedAt: string;
}

/** A resolved input: an upload's R2 object, or a remote COG (uploadId and objectKey null). */
export interface JobInputRecord {
	name: string;
	uploadId: string | null;
	href: string | null;
	band: number;
	objectKey: string | null;
	bytes: number;
	/** A remote input's strong ETag when ingest probed it, which later reads must match; else null. */
	etag: string | null;
}

export interface ArtifactRecord {
	name: string;
	mediaType: string;
	bytes: number;
	objectKey: string;
}

export interface EventRecord {
	stage: string;
	status: string;
	at: string;
	durationMs: number | null;
	attempt: number;
	traceId: string;
	detail: Record<string, unknown> | null;
}

export interface NewEvent {
	jobId: string;
	stage: string;
	status: "started" | "succeeded" | "failed" | "retrying" | "dead_lettered";
	attempt: number;
	traceId: string;
	durationMs?: number | undefined;
	detail?: Record<string, unknown> | undefined;
}

const now = () => new Date().toISOString();

function parseJson<T>(text: unknown): T | null {
	return typeof text === "string" ? (JSON.parse(text) as T) : null;
}

interface JobRow {
	id: string;
	tenant_id: string | null;
	index_id: string;
	request_json: string;
	status: JobStatus;
	stage: StageName | null;
	progress: number;
	error_json: string | null;
	plan_json: string | null;
	formula_json: string | null;
	warnings_json: string | null;
	trace_id: string;
	created_at: string;
	updated_at: string;
}

/**
 * A stored formula; those stored before 0011 call the preview's range `histogram` and list no
 * additive constants.
 */
function storedFormula(text: string | null): CompiledFormula | null {
	const formula = parseJson<CompiledFormula & { histogram?: CompiledFormula["previewRange"] }>(text);
	if (!formula) return null;
	const { histogram, ...current } = formula;
	return {
		...current,
		previewRange: current.previewRange ?? histogram ?? { first: -1, last: 1 },
		additiveConstants: current.additiveConstants ?? [],
	};
}

function toJob(row: JobRow): JobRecord {
	return {
		id: row.id,
		tenantId: row.tenant_id,
		indexId: row.index_id,
		request: JSON.parse(row.request_json) as JobRequest,
		formula: storedFormula(row.formula_json),
		warnings: parseJson<JobWarningRecord[]>(row.warnings_json) ?? [],
		status: row.status,
		stage: row.stage,
		progress: row.progress,
		error: parseJson<Problem>(row.error_json),
		plan: parseJson<JobPlan>(row.plan_json),
		traceId: row.trace_id,
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
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
function uploadInsert(
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

/**
 * `?, ?, ?` for an IN list. It is the only text ever spliced into SQL (the lint rule in
 * lint/no-string-built-sql.grit allows nothing else), so every value stays a bound parameter.
 */
function placeholders(values: readonly unknown[]): string {
	return values.map(() => "?").join(", ");
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

export type JobAdmission = { job: JobRecord } | { refused: "quota" | "claim" };

/**
 * Records a job only while the tenant has fewer than `maxLive` jobs queued or running, and,
 * with an Idempotency-Key, only while `claim` still holds the key, binding the job to it in
 * the same transaction: each condition is checked by the statement that inserts, so racing
 * submissions cannot overrun the quota, and a retry finds the job as soon as it exists.
 */
export async function admitJob(
	db: D1Database,
	job: {
		id: string;
		tenantId: string;
		indexId: string;
		formula: CompiledFormula;
		request: JobRequest;
		traceId: string;
	},
	maxLive: number,
	claim: { operation: string; key: string; token: string } | null,
): Promise<JobAdmission> {
	const at = now();
	const insert = db
		.prepare(
			`INSERT INTO jobs (id, tenant_id, index_id, request_json, formula_json, status, stage, progress, trace_id, created_at, updated_at, waiting_since)
			 SELECT ?1, ?2, ?3, ?4, ?5, 'queued', NULL, 0, ?6, ?7, ?7, ?7
			 WHERE (SELECT COUNT(*) FROM jobs WHERE tenant_id = ?2 AND status IN ('queued', 'running')) < ?8
			   AND (?9 IS NULL OR EXISTS (
			     SELECT 1 FROM idempotency_keys WHERE tenant_id = ?2 AND operation = ?9 AND key = ?10
			       AND claim_token = ?11 AND resource_id IS NULL AND status IS NULL))
			 RETURNING *`,
		)
		.bind(
			job.id,
			job.tenantId,
			job.indexId,
			JSON.stringify(job.request),
			JSON.stringify(job.formula),
			job.traceId,
			at,
			maxLive,
			claim?.operation ?? null,
			claim?.key ?? null,
			claim?.token ?? null,
		);
	const bind = claim
		? [
				db
					.prepare(
						`UPDATE idempotency_keys SET resource_id = ?1
						 WHERE tenant_id = ?2 AND operation = ?3 AND key = ?4 AND claim_token = ?5
						   AND EXISTS (SELECT 1 FROM jobs WHERE id = ?1)`,
					)
					.bind(job.id, job.tenantId, claim.operation, claim.key, claim.token),
			]
		: [];
	const [inserted] = await db.batch<JobRow>([insert, ...bind]);
	const row = inserted?.results[0];
	if (row) return { job: toJob(row) };
	if (!claim) return { refused: "quota" };
	const live = await countLiveJobs(db, job.tenantId);
	return { refused: live >= maxLive ? "quota" : "claim" };
}

/** Jobs of the tenant still queued or running. */
export async function countLiveJobs(db: D1Database, tenantId: string): Promise<number> {
	const row = await db
		.prepare("SELECT COUNT(*) AS live FROM jobs WHERE tenant_id = ? AND status IN ('queued', 'running')")
		.bind(tenantId)
		.first<{ live: number }>();
	return row?.live ?? 0;
}

/** Where a page of a job listing ends: the next page starts after this job. */
export interface JobCursor {
	createdAt: string;
	id: string;
}

/**
 * A page of the tenant's jobs in `statuses`, newest first (ties by id), starting after `after`; one more than `limit` is read to tell whether another page follows.
 */
export async function listTenantJobs(
	db: D1Database,
	tenantId: string,
	page: { statuses: readonly JobStatus[]; after: JobCursor | null; limit: number },
): Promise<{ jobs: JobRecord[]; next: JobCursor | null }> {
	const { statuses, after, limit } = page;
	const { results } = await db
		.prepare(
			`SELECT * FROM jobs WHERE tenant_id = ?
			   AND (? IS NULL OR (created_at, id) < (?, ?)) AND status IN (${placeholders(statuses)})
			 ORDER BY created_at DESC, id DESC LIMIT ?`,
		)
		.bind(tenantId, after?.createdAt ?? null, after?.createdAt ?? null, after?.id ?? null, ...statuses, limit + 1)
		.all<JobRow>();
	const jobs = results.slice(0, limit).map(toJob);
	const last = jobs.at(-1);
	return { jobs, next: results.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
}

/** A job by id, for the pipeline, which only handles ids it was given. */
export async function getJob(db: D1Database, jobId: string): Promise<JobRecord | null> {
	const row = await db.prepare("SELECT * FROM jobs WHERE id = ?").bind(jobId).first<JobRow>();
	return row ? toJob(row) : null;
}

/** A job by id as the tenant sees it: another tenant's job does not exist. */
export async function getTenantJob(db: D1Database, tenantId: string, jobId: string): Promise<JobRecord | null> {
	const row = await db
		.prepare("SELECT * FROM jobs WHERE id = ? AND tenant_id = ?")
		.bind(jobId, tenantId)
		.first<JobRow>();
	return row ? toJob(row) : null;
}

/**
 * Moves a live job to `stage` as an invocation of it starts, which is its heartbeat. Only
 * forward: a late duplicate of an earlier stage's message leaves the stage as it is, and a
 * job already finished is not touched.
 */
export async function markStageRunning(
	db: D1Database,
	jobId: string,
	stage: StageName,
	progress: number,
): Promise<void> {
	const reachable = stageNames.slice(0, stageNames.indexOf(stage) + 1);
	const at = now();
	await db
		.prepare(
			`UPDATE jobs SET status = 'running', stage = ?, progress = MAX(progress, ?), updated_at = ?, stage_heartbeat_at = ?
			 WHERE id = ? AND status IN ('queued', 'running')
			   AND (stage IS NULL OR stage IN (${placeholders(reachable)}))`,
		)
		.bind(stage, progress, at, at, jobId, ...reachable)
		.run();
}

/**
 * Records that an invocation of a live job settled (acknowledged or set to retry): from now on
 * the job waits for a queued message, which is not stalling however long the queue takes.
 */
export async function markStageSettled(db: D1Database, jobId: string): Promise<void> {
	await db
		.prepare("UPDATE jobs SET waiting_since = ? WHERE id = ? AND status IN ('queued', 'running')")
		.bind(now(), jobId)
		.run();
}

/** Ends a live job as failed; returns false when it had already ended. */
export async function failJob(db: D1Database, jobId: string, problem: Problem): Promise<boolean> {
	const result = await db
		.prepare(
			`UPDATE jobs SET status = 'failed', error_json = ?, updated_at = ?
			 WHERE id = ? AND status IN ('queued', 'running')`,
		)
		.bind(JSON.stringify(problem), now(), jobId)
		.run();
	return result.meta.changes > 0;
}

/** Cancels the tenant's job if it is still queued or running; false when it is not. */
export async function cancelJob(db: D1Database, tenantId: string, jobId: string): Promise<boolean> {
	const result = await db
		.prepare(
			`UPDATE jobs SET status = 'canceled', updated_at = ?
			 WHERE id = ? AND tenant_id = ? AND status IN ('queued', 'running')`,
		)
		.bind(now(), jobId, tenantId)
		.run();
	return result.meta.changes > 0;
}

export interface StalledJob {
	id: string;
	traceId: string;
	stage: StageName | null;
	/** `running`: an invocation started and made no progress since `since`; `lost`: the job has waited for a message since `since`. */
	kind: "running" | "lost";
	since: string;
}

/**
 * Live jobs that will not move again: a stage invocation that started (or last made progress)
 * before `runningBefore` and has not settled, or a job waiting since before `waitingBefore`,
 * longer than a queue keeps a message. Jobs from before 0007 count as waiting since their
 * last change.
 */
export async function listStalledJobs(
	db: D1Database,
	cutoffs: { runningBefore: string; waitingBefore: string },
	limit: number,
): Promise<StalledJob[]> {
	const { results } = await db
		.prepare(
			`SELECT id, trace_id, stage, stage_heartbeat_at, COALESCE(waiting_since, updated_at) AS waiting FROM jobs
			 WHERE status IN ('queued', 'running') AND (
			   (stage_heartbeat_at > COALESCE(waiting_since, '') AND stage_heartbeat_at < ?)
			   OR (COALESCE(stage_heartbeat_at, '') <= COALESCE(waiting_since, updated_at)
			       AND COALESCE(waiting_since, updated_at) < ?))
			 LIMIT ?`,
		)
		.bind(cutoffs.runningBefore, cutoffs.waitingBefore, limit)
		.all<{
			id: string;
			trace_id: string;
			stage: StageName | null;
			stage_heartbeat_at: string | null;
			waiting: string;
		}>();
	return results.map((row) => {
		const running = row.stage_heartbeat_at !== null && row.stage_heartbeat_at > row.waiting;
		return {
			id: row.id,
			traceId: row.trace_id,
			stage: row.stage,
			kind: running ? "running" : "lost",
			since: running && row.stage_heartbeat_at ? row.stage_heartbeat_at : row.waiting,
		};
	});
}

/**
 * Ended jobs whose leftovers the sweeper has not removed yet and that ended before `before`,
 * oldest first. Cleaned jobs drop out, so repeated calls walk every ended job once, whatever
 * the rate at which jobs end.
 */
export async function listJobsToClean(
	db: D1Database,
	before: string,
	limit: number,
): Promise<{ id: string; status: JobStatus }[]> {
	const { results } = await db
		.prepare(
			// Named, or the planner may take jobs_by_status_updated and wade through every cleaned job.
			`SELECT id, status FROM jobs INDEXED BY jobs_to_clean
			 WHERE cleaned_at IS NULL AND status IN ('succeeded', 'failed', 'canceled')
			 AND updated_at < ? ORDER BY updated_at LIMIT ?`,
		)
		.bind(before, limit)
		.all<{ id: string; status: JobStatus }>();
	return results;
}

/**
 * Queued jobs whose first stage never started, recorded (or last sent again) before `before`:
 * their ingest message may have been lost between recording the job and queueing it.
 */
export async function listUnstartedJobs(
	db: D1Database,
	before: string,
	limit: number,
): Promise<{ id: string; traceId: string }[]> {
	const { results } = await db
		.prepare(
			`SELECT id, trace_id FROM jobs WHERE status = 'queued' AND stage_heartbeat_at IS NULL
			 AND COALESCE(waiting_since, updated_at) < ? LIMIT ?`,
		)
		.bind(before, limit)
		.all<{ id: string; trace_id: string }>();
	return results.map((row) => ({ id: row.id, traceId: row.trace_id }));
}

/** Notes that the jobs' first message was sent again, so the next sweep waits as long again. */
export async function markJobsResent(db: D1Database, jobIds: readonly string[], at: string): Promise<void> {
	if (jobIds.length === 0) return;
	await db
		.prepare(`UPDATE jobs SET waiting_since = ? WHERE status = 'queued' AND id IN (${placeholders(jobIds)})`)
		.bind(at, ...jobIds)
		.run();
}

/** Marks ended jobs cleaned once their objects are gone, and drops their strip and store rows. */
export async function markJobsCleaned(db: D1Database, jobIds: readonly string[]): Promise<void> {
	if (jobIds.length === 0) return;
	await db.batch([
		...deleteStageRows(db, jobIds),
		db.prepare(`UPDATE jobs SET cleaned_at = ? WHERE id IN (${placeholders(jobIds)})`).bind(now(), ...jobIds),
	]);
}

/**
 * The rows the stages keep while a job runs: its strips, and store's overview blocks, result
 * upload and parts (src/db/store.ts). An unfinished upload is aborted before these go.
 */
function deleteStageRows(db: D1Database, jobIds: readonly string[]): D1PreparedStatement[] {
	return [
		db.prepare(`DELETE FROM job_strips WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		db.prepare(`DELETE FROM job_overview_blocks WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		db.prepare(`DELETE FROM job_result_parts WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		db.prepare(`DELETE FROM job_result_uploads WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
	];
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

/**
 * Ended jobs last changed before `before` that retention has not reached yet, oldest first;
 * `hasObjects` when artifacts or leftovers may still be stored.
 */
export async function listJobsToRetire(
	db: D1Database,
	before: string,
	limit: number,
): Promise<{ id: string; hasObjects: boolean }[]> {
	const { results } = await db
		.prepare(
			// Named, or the planner may take jobs_by_status_updated and wade through every retired job.
			`SELECT id, status, cleaned_at FROM jobs INDEXED BY jobs_to_retire WHERE artifacts_expired_at IS NULL
			 AND status IN ('succeeded', 'failed', 'canceled') AND updated_at < ? ORDER BY updated_at LIMIT ?`,
		)
		.bind(before, limit)
		.all<{ id: string; status: JobStatus; cleaned_at: string | null }>();
	return results.map((row) => ({ id: row.id, hasObjects: row.status === "succeeded" || row.cleaned_at === null }));
}

/**
 * Forgets retired jobs' artifacts, events and strips once their objects are gone; the job
 * records are kept, with their status and error.
 */
export async function markJobsRetired(db: D1Database, jobIds: readonly string[]): Promise<void> {
	if (jobIds.length === 0) return;
	await db.batch([
		db.prepare(`DELETE FROM artifacts WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		db.prepare(`DELETE FROM job_events WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		...deleteStageRows(db, jobIds),
		db.prepare(`UPDATE jobs SET artifacts_expired_at = ? WHERE id IN (${placeholders(jobIds)})`).bind(now(), ...jobIds),
	]);
}

/**
 * Records a job's artifacts and marks it succeeded in one transaction, so artifacts are
 * listed exactly when the job has succeeded. Every statement checks that the job is still
 * live: a cancel, failure or sweep that ended it first wins, no artifact row is written, and
 * this returns false (the caller then owns removing what it wrote). A won job's strips go
 * with it: nothing reads them after success.
 */
export async function completeJob(
	db: D1Database,
	jobId: string,
	artifacts: readonly ArtifactRecord[],
	warnings: readonly JobWarningRecord[],
): Promise<boolean> {
	const at = now();
	// The inserts run before the update and under the same condition; inside the batch's
	// transaction nothing can end the job between them, so rows exist iff the update lands.
	const saveArtifact = db.prepare(
		`INSERT INTO artifacts (job_id, name, media_type, bytes, object_key, created_at)
		 SELECT ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ? AND status IN ('queued', 'running'))`,
	);
	const results = await db.batch([
		...artifacts.map((artifact) =>
			saveArtifact.bind(jobId, artifact.name, artifact.mediaType, artifact.bytes, artifact.objectKey, at, jobId),
		),
		db
			.prepare(
				`UPDATE jobs SET status = 'succeeded', progress = 1, updated_at = ?, warnings_json = ?
				 WHERE id = ? AND status IN ('queued', 'running')`,
			)
			.bind(at, JSON.stringify(warnings), jobId),
		db
			.prepare(
				"DELETE FROM job_strips WHERE job_id = ? AND EXISTS (SELECT 1 FROM jobs WHERE id = ? AND status = 'succeeded')",
			)
			.bind(jobId, jobId),
	]);
	return (results[artifacts.length]?.meta.changes ?? 0) > 0;
}

export async function saveJobInputs(db: D1Database, jobId: string, inputs: readonly JobInputRecord[]): Promise<void> {
	const statement = db.prepare(
		`INSERT INTO job_inputs (job_id, name, upload_id, href, band, object_key, bytes, etag) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		 ON CONFLICT (job_id, name) DO UPDATE SET upload_id = excluded.upload_id, href = excluded.href,
		   band = excluded.band, object_key = excluded.object_key, bytes = excluded.bytes, etag = excluded.etag`,
	);
	await db.batch(
		inputs.map((input) =>
			statement.bind(
				jobId,
				input.name,
				input.uploadId,
				input.href,
				input.band,
				input.objectKey,
				input.bytes,
				input.etag,
			),
		),
	);
}

export async function listJobInputs(db: D1Database, jobId: string): Promise<JobInputRecord[]> {
	const { results } = await db
		.prepare(
			"SELECT name, upload_id, href, band, object_key, bytes, etag FROM job_inputs WHERE job_id = ? ORDER BY name",
		)
		.bind(jobId)
		.all<{
			name: string;
			upload_id: string | null;
			href: string | null;
			band: number;
			object_key: string | null;
			bytes: number;
			etag: string | null;
		}>();
	return results.map((row) => ({
		name: row.name,
		uploadId: row.upload_id,
		href: row.href,
		band: row.band,
		objectKey: row.object_key,
		bytes: row.bytes,
		etag: row.etag,
	}));
}

/**
 * Records the strip plan once and returns the plan that is stored: a redelivered validate
 * (even one that would plan differently) gets the first plan back, and its strips.
 */
export async function saveJobPlan(db: D1Database, jobId: string, plan: JobPlan): Promise<JobPlan> {
	const [, stored] = await db.batch<{ plan_json: string | null }>([
		db
			.prepare("UPDATE jobs SET plan_json = ?, updated_at = ? WHERE id = ? AND plan_json IS NULL")
			.bind(JSON.stringify(plan), now(), jobId),
		db.prepare("SELECT plan_json FROM jobs WHERE id = ?").bind(jobId),
	]);
	const storedPlan = parseJson<JobPlan>(stored?.results[0]?.plan_json);
	if (!storedPlan) throw new Error(`job ${jobId}: the plan was not stored`);
	const insertStrip = db.prepare(
		"INSERT OR IGNORE INTO job_strips (job_id, strip_index, row_start, row_end) VALUES (?, ?, ?, ?)",
	);
	await db.batch(storedPlan.strips.map((strip) => insertStrip.bind(jobId, strip.index, strip.rowStart, strip.rowEnd)));
	return storedPlan;
}

export interface StripCompletion {
	remaining: number;
	total: number;
}

/**
 * Marks a strip done and counts what is left, in one transaction, so a redelivered strip
 * never counts twice and exactly the set of done rows decides completion.
 */
/**
 * How each pass over a job's windows records a window's result and its time, and counts the
 * windows done: compute's statistics, then the histogram stage's counts.
 */
const windowPasses = {
	compute: {
		record:
			"UPDATE job_strips SET stats_json = ?, done_at = ? WHERE job_id = ? AND strip_index = ? AND done_at IS NULL",
		count: "SELECT COUNT(done_at) AS done, COUNT(*) AS total FROM job_strips WHERE job_id = ?",
	},
	histogram: {
		record:
			"UPDATE job_strips SET histogram_json = ?, binned_at = ? WHERE job_id = ? AND strip_index = ? AND binned_at IS NULL",
		count: "SELECT COUNT(binned_at) AS done, COUNT(*) AS total FROM job_strips WHERE job_id = ?",
	},
} as const;

/**
 * Records a window's result of one pass, once (a redelivery changes nothing), and counts how
 * many windows that pass has done, in one transaction; moves the job's progress.
 */
async function completeWindowPass(
	db: D1Database,
	pass: keyof typeof windowPasses,
	jobId: string,
	stripIndex: number,
	value: unknown,
	progressOf: (done: number, total: number) => number,
): Promise<StripCompletion> {
	const statements = windowPasses[pass];
	const [, counts] = await db.batch<{ done: number; total: number }>([
		db.prepare(statements.record).bind(JSON.stringify(value), now(), jobId, stripIndex),
		db.prepare(statements.count).bind(jobId),
	]);
	const row = counts?.results[0];
	if (!row) throw new Error(`job ${jobId} has no strip plan`);
	const at = now();
	await db
		.prepare(
			`UPDATE jobs SET progress = MAX(progress, ?), updated_at = ?, stage_heartbeat_at = ?
			 WHERE id = ? AND status IN ('queued', 'running')`,
		)
		.bind(progressOf(row.done, row.total), at, at, jobId)
		.run();
	return { remaining: row.total - row.done, total: row.total };
}

/** Records a computed window's statistics (see completeWindowPass). */
export function completeStrip(
	db: D1Database,
	jobId: string,
	stripIndex: number,
	stats: unknown,
	progressOf: (done: number, total: number) => number,
): Promise<StripCompletion> {
	return completeWindowPass(db, "compute", jobId, stripIndex, stats, progressOf);
}

/** Records a window's counts of the histogram's second pass (see completeWindowPass). */
export function completeStripHistogram(
	db: D1Database,
	jobId: string,
	stripIndex: number,
	histogram: unknown,
	progressOf: (done: number, total: number) => number,
): Promise<StripCompletion> {
	return completeWindowPass(db, "histogram", jobId, stripIndex, histogram, progressOf);
}

export async function listStripStats<T, H = never>(
	db: D1Database,
	jobId: string,
): Promise<{ index: number; stats: T | null; histogram: H | null }[]> {
	const { results } = await db
		.prepare("SELECT strip_index, stats_json, histogram_json FROM job_strips WHERE job_id = ? ORDER BY strip_index")
		.bind(jobId)
		.all<{ strip_index: number; stats_json: string | null; histogram_json: string | null }>();
	return results.map((row) => ({
		index: row.strip_index,
		stats: parseJson<T>(row.stats_json),
		histogram: parseJson<H>(row.histogram_json),
	}));
}

export async function getStrip(
	db: D1Database,
	jobId: string,
	stripIndex: number,
): Promise<{ rowStart: number; rowEnd: number; done: boolean; binned: boolean } | null> {
	const row = await db
		.prepare("SELECT row_start, row_end, done_at, binned_at FROM job_strips WHERE job_id = ? AND strip_index = ?")
		.bind(jobId, stripIndex)
		.first<{ row_start: number; row_end: number; done_at: string | null; binned_at: string | null }>();
	return row
		? { rowStart: row.row_start, rowEnd: row.row_end, done: row.done_at !== null, binned: row.binned_at !== null }
		: null;
}

export async function listArtifacts(db: D1Database, tenantId: string, jobId: string): Promise<ArtifactRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT a.name, a.media_type, a.bytes, a.object_key FROM artifacts a JOIN jobs j ON j.id = a.job_id
			 WHERE a.job_id = ? AND j.tenant_id = ? ORDER BY a.name`,
		)
		.bind(jobId, tenantId)
		.all<{ name: string; media_type: string; bytes: number; object_key: string }>();
	return results.map((row) => ({
		name: row.name,
		mediaType: row.media_type,
		bytes: row.bytes,
		objectKey: row.object_key,
	}));
}

/** The artifacts of each of the tenant's jobs among `jobIds`, in one query (a page of a listing). */
export async function listArtifactsOfJobs(
	db: D1Database,
	tenantId: string,
	jobIds: readonly string[],
): Promise<Map<string, ArtifactRecord[]>> {
	const byJob = new Map<string, ArtifactRecord[]>(jobIds.map((id) => [id, []]));
	if (jobIds.length === 0) return byJob;
	const { results } = await db
		.prepare(
			`SELECT a.job_id, a.name, a.media_type, a.bytes, a.object_key FROM artifacts a JOIN jobs j ON j.id = a.job_id
			 WHERE j.tenant_id = ? AND a.job_id IN (${placeholders(jobIds)}) ORDER BY a.job_id, a.name`,
		)
		.bind(tenantId, ...jobIds)
		.all<{ job_id: string; name: string; media_type: string; bytes: number; object_key: string }>();
	for (const row of results) {
		byJob.get(row.job_id)?.push({
			name: row.name,
			mediaType: row.media_type,
			bytes: row.bytes,
			objectKey: row.object_key,
		});
	}
	return byJob;
}

export async function insertEvent(db: D1Database, event: NewEvent): Promise<void> {
	await db
		.prepare(
			`INSERT INTO job_events (job_id, stage, status, at, duration_ms, attempt, trace_id, detail_json)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			event.jobId,
			event.stage,
			event.status,
			now(),
			event.durationMs ?? null,
			event.attempt,
			event.traceId,
			event.detail ? JSON.stringify(event.detail) : null,
		)
		.run();
}

export async function listEvents(db: D1Database, tenantId: string, jobId: string): Promise<EventRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT e.stage, e.status, e.at, e.duration_ms, e.attempt, e.trace_id, e.detail_json
			 FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE e.job_id = ? AND j.tenant_id = ? ORDER BY e.id`,
		)
		.bind(jobId, tenantId)
		.all<{
			stage: string;
			status: string;
			at: string;
			duration_ms: number | null;
			attempt: number;
			trace_id: string;
			detail_json: string | null;
		}>();
	return results.map((row) => ({
		stage: row.stage,
		status: row.status,
		at: row.at,
		durationMs: row.duration_ms,
		attempt: row.attempt,
		traceId: row.trace_id,
		detail: parseJson<Record<string, unknown>>(row.detail_json),
	}));
}

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
