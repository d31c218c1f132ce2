/**
 * publish: the job's process writes its artifacts (from the windows' partials), then the
 * artifacts are recorded and the job marked succeeded in one transaction, and the intermediate
 * objects dropped. A job that ended meanwhile keeps its end, and what publish wrote is removed.
 */
import { completeJob } from "../../db/jobs";
import { ApiError } from "../../errors/api-error";
import { objectKeys } from "../../storage/keys";
import { deleteObjectsUnder } from "../../storage/objects";
import { removeJobObjects } from "../failure";
import { jobMessage } from "../message";
import { jobPlan } from "../plan";
import { done, failed, type StageHandler } from "../stage";

export const publishStage: StageHandler = {
	message: jobMessage,
	async handle(_message, context) {
		const { env, job, traceId, process } = context;
		const plan = jobPlan(job);
		if (!plan) throw new Error(`job ${job.id} has no plan`);
		let published: Awaited<ReturnType<typeof process.publish>>;
		try {
			published = await process.publish(context, plan);
		} catch (error) {
			// A process's ApiError is the job's problem (a thing it read is gone, say); anything else is retried.
			if (error instanceof ApiError) return failed(error);
			throw error;
		}
		const succeeded = await completeJob(env.DB, job.id, published.artifacts, published.warnings);
		if (!succeeded) {
			// A cancel, failure or sweep ended the job after the dispatcher let this delivery in,
			// and its cleanup may have run before the artifacts above were written: remove them
			// now rather than leave them to the sweeper's late pass.
			await removeJobObjects(env, job.id, traceId);
			return done({ ended_before_publish: true });
		}
		// After success a redelivered store or publish is skipped, so nothing needs the work objects.
		await deleteObjectsUnder(env.BUCKET, objectKeys.workPrefix(job.id));
		return done(published.detail);
	},
};
