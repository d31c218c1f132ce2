/** SQL of the jobs aggregate: admission, the stage a job is in, its end, and the sweeps over jobs. */
import type { Problem } from "../errors/api-error";
import type { ArtifactRecord } from "./artifacts";
import { deleteJobLogsStatement } from "./job-logs";
import { now, parseJson, placeholders } from "./sql";
import { owedProgressStatement, owedTerminalEventStatement } from "./webhooks";

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";
const TERMINAL: readonly JobStatus[] = ["succeeded", "failed", "canceled"];

export function isTerminal(status: JobStatus): boolean {
	return TERMINAL.includes(status);
}

/** Where a value applied to an input came from: the request, the STAC item, or EO Edge's default. */
export type InputValueSource = "request" | "item" | "default";

/**
 * One input as a request gives it, before ingest resolves STAC sources: an upload, an href, or
 * a STAC item's asset (`asset` alone: of the job's or the date's item). Unset values take the
 * item's, else the defaults.
 */
export interface JobInputSource {
	upload_id?: string | undefined;
	href?: string | undefined;
	stac_item?: string | undefined;
	asset?: string | undefined;
	band?: number | undefined;
	scale?: number | undefined;
	offset?: number | undefined;
	nodata?: number | undefined;
	resampling?: "nearest" | "bilinear" | "average" | undefined;
}

/** A search of a STAC API for a time series' items (POST <url>/search). */
export interface StacSearchRequest {
	url: string;
	collections?: string[] | undefined;
	datetime?: string | undefined;
	query?: Record<string, unknown> | undefined;
	filter?: Record<string, unknown> | undefined;
	limit?: number | undefined;
}

/** One input as the client asked for it: an upload, or a remote COG by its href. */
export type JobInputRequest = (
	| { upload_id: string; href?: undefined; band: number }
	| { href: string; upload_id?: undefined; band: number }
) & {
	/** The formula sees sample * scale + offset. */
	scale: number;
	offset: number;
	/** Overrides the job's `nodata` and the file's for this input. */
	nodata?: number | undefined;
	/** How the input is resampled onto the target grid when it lies on another. */
	resampling?: "nearest" | "bilinear" | "average" | undefined;
	/** The STAC item (absolute URL) and asset the href was resolved from. */
	stac?: { item: string; asset: string } | undefined;
	/** Where band, scale, offset and nodata came from; absent on jobs from before STAC inputs. */
	sources?:
		| { band: InputValueSource; scale: InputValueSource; offset: InputValueSource; nodata: InputValueSource }
		| undefined;
};

export interface JobRequest {
	/** The catalog id as requested, or absent for a custom expression. */
	index?: string | undefined;
	expression?: string | undefined;
	constants?: Record<string, number> | undefined;
	inputs: Record<string, JobInputRequest>;
	nodata?: number | undefined;
	/**
	 * When the scene of a job of one date was taken (RFC 3339), as the request gives it or, when
	 * its inputs come from one STAC item, that item's: its result's STAC Item's datetime.
	 */
	datetime?: string | undefined;
	/**
	 * What the hrefs of the job's STAC Item start with: PUBLIC_BASE_URL, else the origin the job
	 * was submitted to, fixed at submission (absent for jobs from before item.json).
	 */
	base_url?: string | undefined;
	/** Hosts the job's remote inputs, and every redirect they take, may reach. */
	remote?: { allowed_hosts: string[] } | undefined;
	/**
	 * The webhook endpoints the job's events go to (src/db/webhooks.ts reads it in SQL); absent,
	 * every endpoint of the tenant that subscribes to an event.
	 */
	notify?: { webhook_ids: string[] } | undefined;
	/** stats.json's histogram: fixed edges, or (without `range`) edges over the job's own values. */
	histogram?: { range?: [number, number] | undefined; bins: number } | undefined;
	/** result.tif's sample type, and the scale and offset of an integer one. */
	output?: { data_type: "float32" | "int16" | "uint16" | "uint8"; scale: number; offset: number } | undefined;
	/** The target grid: that of the input named, instead of the finest input's. */
	grid?: { like: string } | undefined;
	/** The area of interest (GeoJSON Polygon or MultiPolygon in longitude/latitude, or a bbox), as validated. */
	aoi?: { bbox: number[] } | { type: string; coordinates: unknown } | undefined;
	/** Pixels to drop, by a rule on one input's raw samples. */
	mask?:
		| {
				input: string;
				classes?: number[] | undefined;
				bits?: number[] | undefined;
				preset?: string | undefined;
		  }
		| undefined;
	/**
	 * The fields of a zonal job: the R2 object of their FeatureCollection, a stored field set's
	 * (with its id) or the copy of one sent inline.
	 */
	zones?: { field_set_id?: string | undefined; object_key: string } | undefined;
	coverage?: "fraction" | "center" | "all_touched" | undefined;
	percentiles?: number[] | undefined;
	min_valid_fraction?: number | undefined;
	/**
	 * A time series: each date's inputs (also in `inputs`, under `<date>/<name>`, which is how
	 * the pipeline reads them) and mask.
	 */
	dates?:
		| {
				datetime: string;
				inputs: Record<string, JobInputRequest>;
				mask?: JobRequest["mask"];
				/**
				 * [west, south, east, north] of the STAC item the date reads, when its acquisition spans
				 * several items (each a date of this datetime): fields are weighed on the item covering them.
				 */
				footprint?: [number, number, number, number] | undefined;
		  }[]
		| undefined;
	/**
	 * A request that names STAC items or a search, as given: `inputs` and `dates` stay empty until
	 * ingest resolves these into them (src/stac/) and sets `resolved`.
	 */
	stac?:
		| {
				item?: string | undefined;
				search?: StacSearchRequest | undefined;
				inputs?: Record<string, JobInputSource> | undefined;
				dates?:
					| {
							datetime?: string | undefined;
							stac_item?: string | undefined;
							inputs: Record<string, JobInputSource>;
							mask?: JobRequest["mask"];
					  }[]
					| undefined;
				resolved?: boolean | undefined;
		  }
		| undefined;
}

/**
 * A time series' inputs as the job's: each date's inputs under `<date>/<name>`, the date's index
 * first, so the pipeline's stages, which read a job's inputs by name, read every date's alike.
 */
export function datedInputName(date: number, name: string): string {
	return `${date}/${name}`;
}

/**
 * A problem's paths and text in the request's own terms: a time series' input `<d>/<name>` is
 * `dates[d].inputs.<name>` in a path and `<name>' of dates[d]` in the text. Other jobs' input
 * names are left alone, whatever they hold.
 */
export function inRequestTerms<P extends { detail: string; errors?: { path: string; message: string }[] }>(
	request: JobRequest,
	problem: P,
): P {
	if (!request.dates) return problem;
	const text = (value: string) =>
		value.replace(/'(\d+)\/([^']+)'/g, "'$2' of dates[$1]").replace(/inputs\.(\d+)\//g, "dates[$1].inputs.");
	return {
		...problem,
		detail: text(problem.detail),
		...(problem.errors
			? { errors: problem.errors.map((error) => ({ path: text(error.path), message: text(error.message) })) }
			: {}),
	};
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
	/** The process the job runs (src/processes/); `index` for every job before 0012. */
	process: string;
	/** The catalog index id, EXPRESSION_INDEX for a custom expression, or null when the process computes none. */
	indexId: string | null;
	request: JobRequest;
	/**
	 * The formula compiled at creation, as stored (the index process reads it, see jobFormula);
	 * null when the process compiles none, and for jobs created before formulas were stored (0004).
	 */
	formula: unknown;
	/** What its result looks wrong for, recorded when it succeeds. */
	warnings: JobWarningRecord[];
	status: JobStatus;
	stage: string | null;
	progress: number;
	error: Problem | null;
	/** The plan validate stored, as stored (the pipeline reads it, see jobPlan); null before validate. */
	plan: unknown;
	traceId: string;
	/** The request that created it; null for jobs from before 0014 and jobs recorded without a request. */
	spans: JobSpans | null;
	usage: JobUsageRecord;
	createdAt: string;
	updatedAt: string;
}

/** The caller's span the job's trace continues, and the HTTP request that created the job. */
export interface JobSpans {
	parentSpanId: string | null;
	requestSpanId: string;
	requestStartedAt: string;
}

/** What the job has used so far, summed over its invocations as each settles. */
export interface JobUsageRecord {
	invocations: number;
	bytesReadUploads: number;
	bytesReadRemote: number;
	bytesWritten: number;
}

interface JobRow {
	id: string;
	tenant_id: string | null;
	process: string;
	index_id: string | null;
	request_json: string;
	status: JobStatus;
	stage: string | null;
	progress: number;
	error_json: string | null;
	plan_json: string | null;
	formula_json: string | null;
	warnings_json: string | null;
	trace_id: string;
	parent_span_id: string | null;
	request_span_id: string | null;
	request_started_at: string | null;
	usage_invocations: number;
	usage_bytes_read_uploads: number;
	usage_bytes_written: number;
	remote_bytes_read: number;
	created_at: string;
	updated_at: string;
}

function toJob(row: JobRow): JobRecord {
	return {
		id: row.id,
		tenantId: row.tenant_id,
		process: row.process,
		indexId: row.index_id,
		request: JSON.parse(row.request_json) as JobRequest,
		formula: parseJson<unknown>(row.formula_json),
		warnings: parseJson<JobWarningRecord[]>(row.warnings_json) ?? [],
		status: row.status,
		stage: row.stage,
		progress: row.progress,
		error: parseJson<Problem>(row.error_json),
		plan: parseJson<unknown>(row.plan_json),
		traceId: row.trace_id,
		spans:
			row.request_span_id && row.request_started_at
				? {
						parentSpanId: row.parent_span_id,
						requestSpanId: row.request_span_id,
						requestStartedAt: row.request_started_at,
					}
				: null,
		usage: {
			invocations: row.usage_invocations,
			bytesReadUploads: row.usage_bytes_read_uploads,
			bytesReadRemote: row.remote_bytes_read,
			bytesWritten: row.usage_bytes_written,
		},
		createdAt: row.created_at,
		updatedAt: row.updated_at,
	};
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
		process: string;
		indexId: string | null;
		formula: unknown;
		request: JobRequest;
		traceId: string;
		/** null for a job recorded without a request (tests, benches): its trace has no request span. */
		spans: JobSpans | null;
	},
	maxLive: number,
	claim: { operation: string; key: string; token: string } | null,
): Promise<JobAdmission> {
	const at = now();
	const insert = db
		.prepare(
			`INSERT INTO jobs (id, tenant_id, index_id, request_json, formula_json, status, stage, progress, trace_id, created_at, updated_at, waiting_since, process,
			   parent_span_id, request_span_id, request_started_at)
			 SELECT ?1, ?2, ?3, ?4, ?5, 'queued', NULL, 0, ?6, ?7, ?7, ?7, ?12, ?13, ?14, ?15
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
			job.formula === null ? null : JSON.stringify(job.formula),
			job.traceId,
			at,
			maxLive,
			claim?.operation ?? null,
			claim?.key ?? null,
			claim?.token ?? null,
			job.process,
			job.spans?.parentSpanId ?? null,
			job.spans?.requestSpanId ?? null,
			job.spans?.requestStartedAt ?? null,
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
 * forward: the job moves only from a stage among `reachable` (the job's stages up to this one),
 * so a late duplicate of an earlier stage's message leaves the stage as it is, and a job already
 * finished is not touched.
 */
export async function markStageRunning(
	db: D1Database,
	jobId: string,
	stage: string,
	progress: number,
	reachable: readonly string[],
): Promise<{ webhooksOwed: boolean }> {
	const at = now();
	// Leaving a stage completes it: job.progress is owed for it, read before the UPDATE moves on.
	const [owed] = await db.batch([
		owedProgressStatement(db, jobId, stage, reachable, at),
		db
			.prepare(
				`UPDATE jobs SET status = 'running', stage = ?, progress = MAX(progress, ?), updated_at = ?, stage_heartbeat_at = ?
				 WHERE id = ? AND status IN ('queued', 'running')
				   AND (stage IS NULL OR stage IN (${placeholders(reachable)}))`,
			)
			.bind(stage, progress, at, at, jobId, ...reachable),
	]);
	return { webhooksOwed: (owed?.meta.changes ?? 0) > 0 };
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

/** Adds one invocation's use to the job's, for a caller that writes it in a batch with others. */
export function addJobUsageStatement(
	db: D1Database,
	jobId: string,
	used: { bytesReadUploads: number; bytesWritten: number },
): D1PreparedStatement {
	return db
		.prepare(
			`UPDATE jobs SET usage_invocations = usage_invocations + 1,
			   usage_bytes_read_uploads = usage_bytes_read_uploads + ?2, usage_bytes_written = usage_bytes_written + ?3
			 WHERE id = ?1`,
		)
		.bind(jobId, used.bytesReadUploads, used.bytesWritten);
}

/**
 * Replaces a live job's request with the one ingest resolved (its STAC sources made concrete
 * inputs and dates); false when the job has ended meanwhile.
 */
export async function saveResolvedRequest(db: D1Database, jobId: string, request: JobRequest): Promise<boolean> {
	const result = await db
		.prepare(
			`UPDATE jobs SET request_json = ?, updated_at = ?
			 WHERE id = ? AND status IN ('queued', 'running')`,
		)
		.bind(JSON.stringify(request), now(), jobId)
		.run();
	return result.meta.changes > 0;
}

/**
 * Ends a live job as failed, owing job.failed to its webhooks in the same transaction; returns
 * false when it had already ended (nothing is changed or owed then).
 */
export async function failJob(db: D1Database, jobId: string, problem: Problem): Promise<boolean> {
	const at = now();
	const [ended] = await db.batch([
		db
			.prepare(
				`UPDATE jobs SET status = 'failed', error_json = ?, updated_at = ?
				 WHERE id = ? AND status IN ('queued', 'running')`,
			)
			.bind(JSON.stringify(problem), at, jobId),
		owedTerminalEventStatement(db, jobId, "job.failed", "failed", at),
	]);
	return (ended?.meta.changes ?? 0) > 0;
}

/**
 * Cancels the tenant's job if it is still queued or running, owing job.canceled to its webhooks
 * in the same transaction; false when it is not.
 */
export async function cancelJob(db: D1Database, tenantId: string, jobId: string): Promise<boolean> {
	const at = now();
	const [ended] = await db.batch([
		db
			.prepare(
				`UPDATE jobs SET status = 'canceled', updated_at = ?
				 WHERE id = ? AND tenant_id = ? AND status IN ('queued', 'running')`,
			)
			.bind(at, jobId, tenantId),
		owedTerminalEventStatement(db, jobId, "job.canceled", "canceled", at),
	]);
	return (ended?.meta.changes ?? 0) > 0;
}

export interface StalledJob {
	id: string;
	traceId: string;
	stage: string | null;
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
			stage: string | null;
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
 * Forgets retired jobs' artifacts, events, log rows and strips once their objects are gone; the
 * job records are kept, with their status, error and usage.
 */
export async function markJobsRetired(db: D1Database, jobIds: readonly string[]): Promise<void> {
	if (jobIds.length === 0) return;
	await db.batch([
		db.prepare(`DELETE FROM artifacts WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		db.prepare(`DELETE FROM job_events WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds),
		deleteJobLogsStatement(db, jobIds),
		...deleteStageRows(db, jobIds),
		db.prepare(`UPDATE jobs SET artifacts_expired_at = ? WHERE id IN (${placeholders(jobIds)})`).bind(now(), ...jobIds),
	]);
}

/**
 * Records a job's artifacts and marks it succeeded in one transaction, so artifacts are
 * listed exactly when the job has succeeded. Every statement checks that the job is still
 * live: a cancel, failure or sweep that ended it first wins, no artifact row is written, and
 * this returns false (the caller then owns removing what it wrote). A won job's strips go
 * with it: nothing reads them after success, and its job.succeeded webhooks are owed with it.
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
		owedTerminalEventStatement(db, jobId, "job.succeeded", "succeeded", at),
	]);
	return (results[artifacts.length]?.meta.changes ?? 0) > 0;
}
