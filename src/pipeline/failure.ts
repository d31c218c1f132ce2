/**
 * Ending a job without a result, failed or canceled: the status is recorded and whatever the
 * job wrote to R2 is removed, its unfinished result upload (and the parts it holds) aborted.
 */
import { cancelJob, failJob } from "../db/jobs";
import { getResultUpload } from "../db/store";
import type { Problem } from "../errors/api-error";
import { describeError, log } from "../observability/log";
import { objectKeys } from "../storage/keys";
import { deleteObjectsUnder } from "../storage/objects";
import { sendOwedWebhooks } from "../webhooks/outbox";
import { abortResultUpload } from "./store/result-upload";

/**
 * Aborts the job's result upload if store started one, then removes the job's strips and partial
 * artifacts; a failure is logged, not thrown. A store invocation still running may complete the
 * upload or write after this: the sweeper's last pass over ended jobs removes what it left.
 */
export async function removeJobObjects(env: Env, jobId: string, traceId: string): Promise<void> {
	try {
		const upload = await getResultUpload(env.DB, jobId);
		if (upload) await abortResultUpload(env.DB, env.BUCKET, { ...upload, jobId });
	} catch (error) {
		log.warn("result_upload_abort_failed", { trace_id: traceId, job_id: jobId, ...describeError(error) });
	}
	try {
		await deleteObjectsUnder(env.BUCKET, objectKeys.jobPrefix(jobId));
	} catch (error) {
		// Leftover strips cost storage, not correctness; the sweeper tries again.
		log.warn("job_cleanup_failed", { trace_id: traceId, job_id: jobId, ...describeError(error) });
	}
}

/**
 * Returns false when the job had already ended (nothing is changed then). Every path that fails a
 * job comes here (a stage's problem, retries used up, the dead letter, the sweeper), so each
 * sends the job.failed webhooks its status change owed.
 */
export async function endJobAsFailed(env: Env, jobId: string, problem: Problem): Promise<boolean> {
	const failedNow = await failJob(env.DB, jobId, problem);
	if (failedNow) {
		await sendOwedWebhooks(env, jobId, problem.trace_id);
		await removeJobObjects(env, jobId, problem.trace_id);
	}
	return failedNow;
}

/**
 * Cancels the tenant's live job: later stage messages find it ended and do nothing. Returns
 * false when the job had already ended.
 */
export async function endJobAsCanceled(env: Env, tenantId: string, jobId: string, traceId: string): Promise<boolean> {
	const canceledNow = await cancelJob(env.DB, tenantId, jobId);
	if (canceledNow) {
		await sendOwedWebhooks(env, jobId, traceId);
		await removeJobObjects(env, jobId, traceId);
	}
	return canceledNow;
}
