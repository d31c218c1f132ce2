/**
 * dead-letter: a message a stage gave up on. The job is failed if it is somehow still live
 * (e.g. the dispatcher could not record the failure) and the giving-up is recorded.
 */
import { ApiError, jobProblem } from "../../errors/api-error";
import { endJobAsFailed } from "../failure";
import { jobMessage } from "../message";
import { done, type StageHandler } from "../stage";

export const deadLetterStage: StageHandler = {
	message: jobMessage.loose(),
	async handle(message, { env, job }) {
		const lastStage = job.stage ?? "ingest";
		const failedNow = await endJobAsFailed(
			env,
			job.id,
			jobProblem(
				new ApiError(
					"stage-failed",
					`a message of the job was given up on after its retries (last stage: ${lastStage})`,
				),
				job.id,
				message.trace_id,
			),
		);
		return done({ last_stage: lastStage, marked_failed: failedNow });
	},
};
