/**
 * Scheduled upkeep (cron triggers, wrangler.toml [triggers]): the sweeper that fails jobs that
 * stopped moving and clears what failed or canceled jobs left behind, the expiry of abandoned
 * uploads in parts, and the retention that deletes old inputs and artifacts and forgets old
 * idempotency and rate-limit records.
 */

import { IDEMPOTENCY_WINDOW_MS } from "../access/idempotency";
import { deleteIdempotencyKeysBefore, deleteRateWindowsBefore, deleteUploadReservationsBefore } from "../db/access";
import {
	closeUploadSession,
	listExpiredUploadSessions,
	listJobsWithArtifactsToExpire,
	listRecentlyEndedJobs,
	listStalledJobs,
	listUploadsToExpire,
	markArtifactsExpired,
	markUploadExpired,
} from "../db/queries";
import { ApiError, jobProblem } from "../errors/api-error";
import { describeError, log } from "../observability/log";
import { endJobAsFailed, removeJobObjects } from "../pipeline/failure";
import { objectKeys } from "../storage/keys";
import { deleteObjectsUnder } from "../storage/objects";

/** Rows handled per run and kind, so one invocation stays well inside its limits. */
const BATCH = 100;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
const SWEEP_CLEANUP_WINDOW_MS = 60 * MINUTE_MS;
const RATE_WINDOW_KEEP_MS = 10 * MINUTE_MS;

export interface SweepReport {
	stalled: number;
	cleaned: number;
}

/** Fails live jobs with no change for STALLED_JOB_MINUTES and clears recently ended jobs' objects. */
export async function sweepJobs(env: Env, now: number): Promise<SweepReport> {
	const before = new Date(now - env.STALLED_JOB_MINUTES * MINUTE_MS).toISOString();
	const stalled = await listStalledJobs(env.DB, before, BATCH);
	for (const job of stalled) {
		const problem = jobProblem(
			new ApiError(
				"job-stalled",
				`The job made no progress at stage ${job.stage ?? "queued"} since ${job.updatedAt} (over ${env.STALLED_JOB_MINUTES} minutes); it was stopped.`,
			),
			job.id,
			job.traceId,
		);
		if (await endJobAsFailed(env, job.id, problem)) {
			log.warn("job_stalled", { trace_id: job.traceId, job_id: job.id, stage: job.stage ?? undefined });
		}
	}
	// A stage that was mid-way when its job failed or was canceled may have written after the
	// cleanup, and a succeeded job's work objects stay when their deletion failed after success.
	const ended = await listRecentlyEndedJobs(env.DB, new Date(now - SWEEP_CLEANUP_WINDOW_MS).toISOString(), BATCH);
	for (const job of ended) {
		if (job.status === "succeeded") await deleteObjectsUnder(env.BUCKET, objectKeys.workPrefix(job.id));
		else await removeJobObjects(env, job.id, "");
	}
	return { stalled: stalled.length, cleaned: ended.length };
}

export interface UploadExpiryReport {
	sessions: number;
	reservations: number;
}

/**
 * Aborts upload sessions past their expires_at: the R2 multipart upload is aborted, its parts
 * forgotten and the session marked expired, batch after batch until none is left; and forgets
 * quota reservations whose upload died before settling them.
 */
export async function expireUploadSessions(env: Env, now: number): Promise<UploadExpiryReport> {
	const at = new Date(now).toISOString();
	let sessions = 0;
	for (;;) {
		const expired = await listExpiredUploadSessions(env.DB, at, BATCH);
		for (const session of expired) {
			try {
				await env.BUCKET.resumeMultipartUpload(session.objectKey, session.multipartId).abort();
			} catch (error) {
				// Marked anyway, so one bad session cannot stall the rest: R2 itself drops incomplete
				// multipart uploads after 7 days.
				log.warn("upload_session_abort_failed", { upload_id: session.id, ...describeError(error) });
			}
			await closeUploadSession(env.DB, session.id, "aborted", at);
		}
		sessions += expired.length;
		if (expired.length < BATCH) break;
	}
	const reservations = await deleteUploadReservationsBefore(env.DB, at);
	const report = { sessions, reservations };
	if (sessions + reservations > 0) log.info("uploads_expired", { ...report });
	return report;
}

export interface RetentionReport {
	uploads: number;
	jobs: number;
	idempotencyKeys: number;
	rateWindows: number;
}

/** Deletes inputs older than UPLOAD_RETENTION_DAYS and artifacts older than ARTIFACT_RETENTION_DAYS. */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
	const uploads = await listUploadsToExpire(
		env.DB,
		new Date(now - env.UPLOAD_RETENTION_DAYS * DAY_MS).toISOString(),
		BATCH,
	);
	for (const upload of uploads) {
		await env.BUCKET.delete(upload.objectKey);
		await markUploadExpired(env.DB, upload.id);
	}
	const jobs = await listJobsWithArtifactsToExpire(
		env.DB,
		new Date(now - env.ARTIFACT_RETENTION_DAYS * DAY_MS).toISOString(),
		BATCH,
	);
	for (const jobId of jobs) {
		await deleteObjectsUnder(env.BUCKET, objectKeys.jobPrefix(jobId));
		await markArtifactsExpired(env.DB, jobId);
	}
	const idempotencyKeys = await deleteIdempotencyKeysBefore(
		env.DB,
		new Date(now - IDEMPOTENCY_WINDOW_MS).toISOString(),
	);
	const rateWindows = await deleteRateWindowsBefore(env.DB, Math.floor((now - RATE_WINDOW_KEEP_MS) / 1000));
	const report = { uploads: uploads.length, jobs: jobs.length, idempotencyKeys, rateWindows };
	log.info("retention_applied", { ...report });
	return report;
}

/** Which task each cron expression in wrangler.toml runs. */
export const scheduledTasks: Record<string, readonly ((env: Env, now: number) => Promise<unknown>)[]> = {
	"*/5 * * * *": [sweepJobs, expireUploadSessions],
	"30 3 * * *": [applyRetention],
};

export async function runScheduled(cron: string, env: Env, now: number): Promise<void> {
	const tasks = scheduledTasks[cron];
	if (!tasks) {
		log.error("unknown_cron", { cron });
		return;
	}
	// Each task runs even when one before it failed; the failures are reported together after.
	const failures: unknown[] = [];
	for (const task of tasks) {
		try {
			await task(env, now);
		} catch (error) {
			failures.push(error);
		}
	}
	if (failures.length > 0) throw new AggregateError(failures, `${failures.length} task(s) of cron ${cron} failed`);
}
