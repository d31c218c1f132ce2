/**
 * SQL of a job's log: what happened to it, in words for its tenant, each row under the span of
 * the request or queue delivery it happened in. The rows that open and close a delivery's span
 * are marked, so the job's trace is read from the same rows (src/observability/otlp.ts).
 */
import { now, parseJson, placeholders } from "./sql";

export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface NewJobLog {
	jobId: string;
	level: LogLevel;
	stage: string;
	window?: number | undefined;
	attempt?: number | undefined;
	/** A short machine-readable name of what happened: a problem's code, `retrying`, `queued`, … */
	code?: string | undefined;
	message: string;
	data?: Record<string, unknown> | undefined;
	traceId: string;
	spanId: string;
	/** Whether the row opens or closes its span (a delivery's), or neither. */
	spanPhase?: "start" | "end" | undefined;
	/** On an end row: how long the delivery ran. */
	durationMs?: number | undefined;
	/** On a first attempt's start row: how long its message waited in the queue. */
	queueWaitMs?: number | undefined;
	/** When it happened; now when absent. */
	at?: string | undefined;
}

export interface JobLogRecord {
	id: number;
	at: string;
	level: LogLevel;
	stage: string;
	window: number | null;
	attempt: number | null;
	code: string | null;
	message: string;
	data: Record<string, unknown> | null;
	traceId: string;
	spanId: string;
	spanPhase: "start" | "end" | null;
	durationMs: number | null;
	queueWaitMs: number | null;
}

interface JobLogRow {
	id: number;
	at: string;
	level: LogLevel;
	stage: string;
	window_index: number | null;
	attempt: number | null;
	code: string | null;
	message: string;
	data_json: string | null;
	trace_id: string;
	span_id: string;
	span_phase: "start" | "end" | null;
	duration_ms: number | null;
	queue_wait_ms: number | null;
}

function toJobLog(row: JobLogRow): JobLogRecord {
	return {
		id: row.id,
		at: row.at,
		level: row.level,
		stage: row.stage,
		window: row.window_index,
		attempt: row.attempt,
		code: row.code,
		message: row.message,
		data: parseJson<Record<string, unknown>>(row.data_json),
		traceId: row.trace_id,
		spanId: row.span_id,
		spanPhase: row.span_phase,
		durationMs: row.duration_ms,
		queueWaitMs: row.queue_wait_ms,
	};
}

/** The insert of one row, for a caller that writes it in a batch with others. */
export function jobLogStatement(db: D1Database, log: NewJobLog): D1PreparedStatement {
	return db
		.prepare(
			`INSERT INTO job_logs (job_id, at, level, stage, window_index, attempt, code, message, data_json, trace_id, span_id,
			   span_phase, duration_ms, queue_wait_ms)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		)
		.bind(
			log.jobId,
			log.at ?? now(),
			log.level,
			log.stage,
			log.window ?? null,
			log.attempt ?? null,
			log.code ?? null,
			log.message,
			log.data ? JSON.stringify(log.data) : null,
			log.traceId,
			log.spanId,
			log.spanPhase ?? null,
			log.durationMs ?? null,
			log.queueWaitMs ?? null,
		);
}

/** Removes retired jobs' rows, in the batch that retires them (src/db/jobs.ts `markJobsRetired`). */
export function deleteJobLogsStatement(db: D1Database, jobIds: readonly string[]): D1PreparedStatement {
	return db.prepare(`DELETE FROM job_logs WHERE job_id IN (${placeholders(jobIds)})`).bind(...jobIds);
}

export async function insertJobLog(db: D1Database, log: NewJobLog): Promise<void> {
	await jobLogStatement(db, log).run();
}

/**
 * A page of the job's rows at `minLevel` or above, oldest first, after row `afterId`; the tenant
 * check is in the query, so another tenant's job reads as empty.
 */
export async function listJobLogs(
	db: D1Database,
	tenantId: string,
	jobId: string,
	page: { levels: readonly LogLevel[]; afterId: number; limit: number },
): Promise<JobLogRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT l.* FROM job_logs l JOIN jobs j ON j.id = l.job_id
			 WHERE l.job_id = ?1 AND j.tenant_id = ?2 AND l.id > ?3
			   AND l.level IN (SELECT value FROM json_each(?4))
			 ORDER BY l.id LIMIT ?5`,
		)
		.bind(jobId, tenantId, page.afterId, JSON.stringify(page.levels), page.limit)
		.all<JobLogRow>();
	return results.map(toJobLog);
}

/** Every row of the job, oldest first, up to `limit`: what its trace is built from. */
export async function listAllJobLogs(db: D1Database, jobId: string, limit: number): Promise<JobLogRecord[]> {
	const { results } = await db
		.prepare("SELECT * FROM job_logs WHERE job_id = ? ORDER BY id LIMIT ?")
		.bind(jobId, limit)
		.all<JobLogRow>();
	return results.map(toJobLog);
}

/** A failure as the operator's view lists it: the row, with the job's tenant. */
export interface FailureRecord extends JobLogRecord {
	jobId: string;
	tenantId: string | null;
}

/**
 * Error rows of every tenant (failed deliveries, dead letters, stalled jobs) since `since`,
 * newest first, optionally of one stage or problem code, after the cursor (at, id) of a previous
 * page; read through the partial index of error rows.
 */
export async function listFailures(
	db: D1Database,
	filter: { since: string; stage: string | null; code: string | null },
	page: { before: { at: string; id: number } | null; limit: number },
): Promise<FailureRecord[]> {
	const { results } = await db
		.prepare(
			`SELECT l.*, j.tenant_id FROM job_logs l INDEXED BY job_logs_errors JOIN jobs j ON j.id = l.job_id
			 WHERE l.level = 'error' AND l.at >= ?1
			   AND (?2 IS NULL OR l.stage = ?2) AND (?3 IS NULL OR l.code = ?3)
			   AND (?4 IS NULL OR (l.at, l.id) < (?4, ?5))
			 ORDER BY l.at DESC, l.id DESC LIMIT ?6`,
		)
		.bind(filter.since, filter.stage, filter.code, page.before?.at ?? null, page.before?.id ?? null, page.limit)
		.all<JobLogRow & { job_id: string; tenant_id: string | null }>();
	return results.map((row) => ({ ...toJobLog(row), jobId: row.job_id, tenantId: row.tenant_id }));
}

/** One delivery's row for the stage figures: its stage, phase, level, code and timings. */
export interface DeliveryRow {
	/** The consumer's stage; for a dead letter, the stage its job had reached. */
	stage: string;
	spanPhase: "start" | "end";
	level: LogLevel;
	code: string | null;
	durationMs: number | null;
	queueWaitMs: number | null;
}

/** The start and end rows of deliveries since `since`, at most `limit`, through their partial index. */
export async function listDeliveryRows(db: D1Database, since: string, limit: number): Promise<DeliveryRow[]> {
	const { results } = await db
		.prepare(
			`SELECT COALESCE(CASE WHEN code = 'dead_lettered' THEN json_extract(data_json, '$.last_stage') END, stage) AS stage,
			   span_phase, level, code, duration_ms, queue_wait_ms
			 FROM job_logs INDEXED BY job_logs_deliveries WHERE span_phase IS NOT NULL AND at >= ? LIMIT ?`,
		)
		.bind(since, limit)
		.all<{
			stage: string;
			span_phase: "start" | "end";
			level: LogLevel;
			code: string | null;
			duration_ms: number | null;
			queue_wait_ms: number | null;
		}>();
	return results.map((row) => ({
		stage: row.stage,
		spanPhase: row.span_phase,
		level: row.level,
		code: row.code,
		durationMs: row.duration_ms,
		queueWaitMs: row.queue_wait_ms,
	}));
}
