/**
 * compute: the first pass over a job's windows. Each message is one window, which the job's
 * process computes into its partial result (whatever objects it writes, and a JSON partial that
 * is recorded here once, idempotently). Each finished window queues the next one of the chain;
 * the delivery that completes the last window starts the process's next stage.
 */
import { completeStrip, getStrip } from "../../db/windows";
import { ApiError } from "../../errors/api-error";
import { advance } from "../advance";
import { jobPlan } from "../plan";
import { done, failed, type StageHandler } from "../stage";
import { windowProgress } from "../stage-table";
import { continueWindows, type WindowMessage, windowMessage } from "../windows";

export const computeStage: StageHandler<WindowMessage> = {
	message: windowMessage,
	async handle(message, context) {
		const { env, job, process } = context;
		const plan = jobPlan(job);
		const strip = await getStrip(env.DB, job.id, message.strip_index);
		const window = plan?.strips[message.strip_index];
		if (!plan || !strip || !window) throw new Error(`job ${job.id}: strip ${message.strip_index} is not planned`);

		let partial: unknown = null;
		if (!strip.done) {
			try {
				partial = await process.computeWindow(context, plan, window);
			} catch (error) {
				if (error instanceof ApiError) return failed(error);
				throw error;
			}
		}
		const progress = windowProgress("compute", process.stages(job.request));
		const completion = await completeStrip(env.DB, job.id, message.strip_index, partial, progress);
		await continueWindows(env, "compute", plan, message, completion, {
			alreadyDone: strip.done,
			isDone: async (index) => (await getStrip(env.DB, job.id, index))?.done ?? false,
		});
		const next = completion.remaining === 0 ? await advance(context, "compute", plan) : undefined;
		return done({
			rows: [window.rowStart, window.rowEnd],
			columns: [window.colStart, window.colEnd],
			remaining: completion.remaining,
			total: completion.total,
			...(strip.done ? { already_done: true } : {}),
			...(next ? { next } : {}),
		});
	},
};
