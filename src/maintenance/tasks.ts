/**
 * Scheduled upkeep (cron triggers, wrangler.toml [triggers]): the sweeper that fails jobs that
 * will not move again and clears what ended jobs left behind, and the retention that deletes
 * old inputs, artifacts, events and upload sessions and forgets old idempotency and rate-limit
 * records; and the expiry of abandoned uploads in parts.
 *
 * Every pass walks its rows in batches, oldest first, until none is left or the run's budget
 * is used. What a pass has done is recorded in the rows themselves (cleaned_at,
 * artifacts_expired_at, expired_at, deleted rows), so the next run resumes where this one
 * stopped: a burst of ended jobs is worked off over a few runs, and no row is ever skipped.
 */

import { IDEMPOTENCY_WINDOW_MS } from "../access/idempotency";
import { deleteIdempotencyKeysBefore, deleteRateWindowsBefore, deleteUploadReservationsBefore } from "../db/access";
import {
	listJobsToClean,
	listJobsToRetire,
	listStalledJobs,
	listUnstartedJobs,
	markJobsCleaned,
	markJobsResent,
	markJobsRetired,
	type StalledJob,
} from "../db/jobs";
import { listOpenResultUploads } from "../db/store";
import { closeUploadSession, deleteEndedUploadSessions, listExpiredUploadSessions } from "../db/upload-sessions";
import { listUploadsToExpire, markUploadsExpired } from "../db/uploads";
import { deleteWebhookHistoryBefore } from "../db/webhooks";
import { ApiError, jobProblem } from "../errors/api-error";
import { recordJobLog } from "../observability/job-log";
import { describeError, log } from "../observability/log";
import { newSpanId } from "../observability/trace";
import { endJobAsFailed } from "../pipeline/failure";
import { sendAllToStage } from "../pipeline/send";
import { abortResultUpload } from "../pipeline/store/result-upload";
import { objectKeys } from "../storage/keys";
import { deleteObjectsUnder } from "../storage/objects";
import { resendOverdueWebhooks } from "../webhooks/outbox";

/** Rows per batch: D1 binds at most 100 parameters, which an IN list of a batch's ids must fit. */
const BATCH = 50;
/** Session rows per batch: two D1 statements and no R2 call, whatever the batch size. */
const SESSION_BATCH = 500;
/** Wall time one run may spend, well inside the shorter cron interval (5 minutes). */
const RUN_MAX_MS = 60_000;
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;
/**
 * A queue consumer invocation runs at most 15 minutes; once a job has been ended longer than
 * that, no invocation of it can still write, so its leftovers are removed once and for good.
 */
export const LATE_WRITE_GRACE_MS = 15 * MINUTE_MS;
/**
 * Cloudflare Queues keep a message 4 days by default and then delete it unread: a job that has
 * waited longer for its next message will never get it.
 */
const QUEUE_MESSAGE_RETENTION_MS = 4 * DAY_MS;
const RATE_WINDOW_KEEP_MS = 10 * MINUTE_MS;

/**
 * What one run may still spend. The R2 and D1 allowances keep a run well inside a Workers Paid
 * invocation's limits (10,000 subrequests, 1,000 D1 queries) however its passes share them.
 */
class RunBudget {
	private r2Calls = 8_000;
	private d1Queries = 800;
	private readonly deadline = Date.now() + RUN_MAX_MS;

	/** Takes the most one batch may use; false when the run cannot afford another. */
	take(cost: { r2Calls: number; d1Queries: number }): boolean {
		if (Date.now() >= this.deadline || cost.r2Calls > this.r2Calls || cost.d1Queries > this.d1Queries) return false;
		this.r2Calls -= cost.r2Calls;
		this.d1Queries -= cost.d1Queries;
		return true;
	}
}

/**
 * Runs `batch` (which handles up to `size` rows and returns how many it did) until it handles
 * fewer than `size` or the run's budget cannot pay for another batch.
 */
async function inBatches(
	budget: RunBudget,
	size: number,
	cost: { r2Calls: number; d1Queries: number },
	batch: () => Promise<number>,
): Promise<number> {
	let total = 0;
	while (budget.take(cost)) {
		const handled = await batch();
		total += handled;
		if (handled < size) break;
	}
	return total;
}

/** A batch of jobs: a list, up to a list and a delete of objects per job, and a write. */
const JOB_BATCH_COST = { r2Calls: 2 * BATCH, d1Queries: 3 };
/** Cleaning a batch also lists the jobs' unfinished result uploads (each abort is paid apart). */
const CLEAN_BATCH_COST = { r2Calls: 2 * BATCH, d1Queries: 4 };
/** Aborting a result upload: the call and its write. */
const ABORT_COST = { r2Calls: 1, d1Queries: 1 };

/**
 * A queued job whose first stage has not started after this long is sent to ingest again
 * (ingest is idempotent): the worker may have died between recording the job and queueing it.
 * A job merely waiting behind others gets at most one extra message per interval.
 */
export const UNSTARTED_RESEND_MS = 10 * MINUTE_MS;

export interface SweepReport {
	stalled: number;
	resent: number;
	cleaned: number;
}

function stalledProblem(env: Env, job: StalledJob) {
	const stage = job.stage ?? "queued";
	const detail =
		job.kind === "running"
			? `The job made no progress at stage ${stage} since ${job.since} (over ${env.STALLED_JOB_MINUTES} minutes); it was stopped.`
			: `The job waited for its next message since ${job.since} (last stage: ${stage}), longer than a queue keeps one; it was stopped.`;
	return jobProblem(new ApiError("job-stalled", detail), job.id, job.traceId);
}

/**
 * Fails jobs that will not move again and removes what ended jobs left behind.
 *
 * Stalled means a stage invocation started (or last made progress) STALLED_JOB_MINUTES ago
 * and has neither progressed nor settled since. A job waiting for a queued message, for its
 * first stage or its next strip, is not stalled however long the queues take; it is failed only
 * once it has waited longer than a queue keeps a message.
 */
export async function sweepJobs(env: Env, now: number): Promise<SweepReport> {
	const cutoffs = {
		runningBefore: new Date(now - env.STALLED_JOB_MINUTES * MINUTE_MS).toISOString(),
		waitingBefore: new Date(now - QUEUE_MESSAGE_RETENTION_MS).toISOString(),
	};
	const budget = new RunBudget();
	// A stalled job's failure writes it and its log row, and removes its objects (a list and a delete).
	const stalled = await inBatches(budget, BATCH, { r2Calls: 2 * BATCH, d1Queries: 1 + 2 * BATCH }, async () => {
		const jobs = await listStalledJobs(env.DB, cutoffs, BATCH);
		for (const job of jobs) {
			const problem = stalledProblem(env, job);
			if (await endJobAsFailed(env, job.id, problem)) {
				await recordJobLog(env.DB, {
					jobId: job.id,
					level: "error",
					stage: job.stage ?? "ingest",
					code: "job-stalled",
					message: problem.detail,
					data: { problem },
					traceId: job.traceId,
					spanId: newSpanId(),
				});
				log.warn("job_stalled", {
					trace_id: job.traceId,
					job_id: job.id,
					stage: job.stage ?? undefined,
					kind: job.kind,
				});
			}
		}
		return jobs.length;
	});
	const resendBefore = new Date(now - UNSTARTED_RESEND_MS).toISOString();
	// A batch is one list, one send of up to BATCH messages and one write.
	const resent = await inBatches(budget, BATCH, { r2Calls: 1, d1Queries: 2 }, async () => {
		const jobs = await listUnstartedJobs(env.DB, resendBefore, BATCH);
		await sendAllToStage(
			env,
			"ingest",
			jobs.map((job) => ({ job_id: job.id, trace_id: job.traceId })),
		);
		await markJobsResent(
			env.DB,
			jobs.map((job) => job.id),
			new Date(now).toISOString(),
		);
		for (const job of jobs)
			log.warn("job_resent_to_ingest", { trace_id: job.traceId, job_id: job.id, stage: "ingest" });
		return jobs.length;
	});
	// Ending a job removes its objects at once, but a stage invocation that was mid-way may
	// write after that, and a succeeded job's work objects stay when their deletion failed.
	const cleanBefore = new Date(now - LATE_WRITE_GRACE_MS).toISOString();
	const cleaned = await inBatches(budget, BATCH, CLEAN_BATCH_COST, async () => {
		const jobs = await listJobsToClean(env.DB, cleanBefore, BATCH);
		// A failed or canceled job's result upload that aborting it when the job ended did not
		// reach: aborted now (or, if R2 refuses, left to its own 7-day expiry). A job whose abort
		// the run cannot pay for stays uncleaned, for the next run.
		const uploads = await listOpenResultUploads(
			env.DB,
			jobs.map((job) => job.id),
		);
		const waiting = new Set<string>();
		for (const upload of uploads) {
			if (budget.take(ABORT_COST)) await abortResultUpload(env.DB, env.BUCKET, upload, { markAnyway: true });
			else waiting.add(upload.jobId);
		}
		const ready = jobs.filter((job) => !waiting.has(job.id));
		for (const job of ready) {
			const prefix = job.status === "succeeded" ? objectKeys.workPrefix(job.id) : objectKeys.jobPrefix(job.id);
			await deleteObjectsUnder(env.BUCKET, prefix);
		}
		await markJobsCleaned(
			env.DB,
			ready.map((job) => job.id),
		);
		return ready.length;
	});
	return { stalled, resent, cleaned };
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
	// Each session costs an abort and a write.
	const sessions = await inBatches(new RunBudget(), BATCH, { r2Calls: BATCH, d1Queries: 1 + BATCH }, async () => {
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
		return expired.length;
	});
	const reservations = await deleteUploadReservationsBefore(env.DB, at);
	const report = { sessions, reservations };
	if (sessions + reservations > 0) log.info("uploads_expired", { ...report });
	return report;
}

export interface RetentionReport {
	uploads: number;
	jobs: number;
	uploadSessions: number;
	idempotencyKeys: number;
	rateWindows: number;
	webhookHistory: number;
}

/**
 * Deletes inputs older than UPLOAD_RETENTION_DAYS, with the rows of ended upload sessions, and
 * retires jobs ended more than ARTIFACT_RETENTION_DAYS ago: their artifacts, events and log rows go, the
 * job record stays. Webhook deliveries and their attempts are kept as long as artifacts.
 */
export async function applyRetention(env: Env, now: number): Promise<RetentionReport> {
	const uploadsBefore = new Date(now - env.UPLOAD_RETENTION_DAYS * DAY_MS).toISOString();
	const budget = new RunBudget();
	const uploads = await inBatches(budget, BATCH, { r2Calls: 1, d1Queries: 2 }, async () => {
		const expiring = await listUploadsToExpire(env.DB, uploadsBefore, BATCH);
		if (expiring.length > 0) await env.BUCKET.delete(expiring.map((upload) => upload.objectKey));
		await markUploadsExpired(
			env.DB,
			expiring.map((upload) => upload.id),
		);
		return expiring.length;
	});
	const uploadSessions = await inBatches(budget, SESSION_BATCH, { r2Calls: 0, d1Queries: 2 }, () =>
		deleteEndedUploadSessions(env.DB, uploadsBefore, SESSION_BATCH),
	);
	const jobsBefore = new Date(now - env.ARTIFACT_RETENTION_DAYS * DAY_MS).toISOString();
	const jobs = await inBatches(budget, BATCH, JOB_BATCH_COST, async () => {
		const retiring = await listJobsToRetire(env.DB, jobsBefore, BATCH);
		for (const job of retiring) {
			if (job.hasObjects) await deleteObjectsUnder(env.BUCKET, objectKeys.jobPrefix(job.id));
		}
		await markJobsRetired(
			env.DB,
			retiring.map((job) => job.id),
		);
		return retiring.length;
	});
	const idempotencyKeys = await deleteIdempotencyKeysBefore(
		env.DB,
		new Date(now - IDEMPOTENCY_WINDOW_MS).toISOString(),
	);
	const rateWindows = await deleteRateWindowsBefore(env.DB, Math.floor((now - RATE_WINDOW_KEEP_MS) / 1000));
	const webhookHistory = await inBatches(budget, SESSION_BATCH, { r2Calls: 0, d1Queries: 1 }, () =>
		deleteWebhookHistoryBefore(env.DB, jobsBefore, SESSION_BATCH),
	);
	const report = { uploads, jobs, uploadSessions, idempotencyKeys, rateWindows, webhookHistory };
	log.info("retention_applied", { ...report });
	return report;
}

/**
 * Which task each cron expression in wrangler.toml runs. Retention runs every 10 minutes, not
 * daily: each run handles a bounded share, so it must run often enough to keep up.
 */
export const scheduledTasks: Record<string, readonly ((env: Env, now: number) => Promise<unknown>)[]> = {
	"*/5 * * * *": [sweepJobs, expireUploadSessions, resendOverdueWebhooks],
	"*/10 * * * *": [applyRetention],
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
