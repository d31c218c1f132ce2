/** Ending a job as failed: the problem is recorded and whatever the job wrote to R2 is removed. */
import { failJob } from "../db/queries";
import type { Problem } from "../errors/api-error";
import { describeError, log } from "../observability/log";
import { objectKeys } from "../storage/keys";
import { deleteObjectsUnder } from "../storage/objects";

/** Returns false when the job had already ended (nothing is changed then). */
export async function endJobAsFailed(env: Env, jobId: string, problem: Problem): Promise<boolean> {
	const failedNow = await failJob(env.DB, jobId, problem);
	if (failedNow) {
		try {
			await deleteObjectsUnder(env.BUCKET, objectKeys.jobPrefix(jobId));
		} catch (error) {
			// Leftover strips cost storage, not correctness: the failure itself is recorded.
			log.warn("job_cleanup_failed", { trace_id: problem.trace_id, job_id: jobId, ...describeError(error) });
		}
	}
	return failedNow;
}
