/**
 * dead-letter: a message a stage gave up on. The job is failed if it is somehow still live
 * (e.g. the dispatcher could not record the failure) and the giving-up is recorded.
 */
import { failJob } from "../../db/queries";
import { ApiError, toProblem } from "../../errors/api-error";
import { jobMessage } from "../message";
import { done, type StageHandler } from "../stage";

export const deadLetterStage: StageHandler = {
	message: jobMessage.loose(),
	async handle(message, { env, job }) {
		const failedNow = await failJob(
			env.DB,
			job.id,
			toProblem(new ApiError("stage-failed", `stage ${job.stage ?? "ingest"} gave up on the job after its retries`), {
				instance: `/v1/jobs/${job.id}`,
				traceId: message.trace_id,
			}),
		);
		return done({ stage: job.stage, marked_failed: failedNow });
	},
};
