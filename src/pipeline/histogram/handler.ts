/**
 * histogram: the second pass over a job's windows, for a process that needs every window's
 * first-pass partial before it can finish any window (the index process's histogram, whose
 * edges span the job's own values). It fans out like compute once compute's last window is
 * done; each window's result is recorded once, and the delivery that records the last starts
 * the process's next stage.
 */
import { completeStripHistogram, getStrip, listStripStats } from "../../db/windows";
import { advance } from "../advance";
import { jobPlan } from "../plan";
import { done, type StageHandler } from "../stage";
import { windowProgress } from "../stage-table";
import { continueWindows, type WindowMessage, windowMessage } from "../windows";

export const histogramStage: StageHandler<WindowMessage> = {
	message: windowMessage,
	async handle(message, context) {
		const { env, job, process } = context;
		const plan = jobPlan(job);
		const index = message.strip_index;
		const strip = await getStrip(env.DB, job.id, index);
		const window = plan?.strips[index];
		if (!plan || !strip || !window) throw new Error(`job ${job.id}: strip ${index} is not planned`);
		if (!process.revisitWindow) throw new Error(`process ${process.name} has no second pass over its windows`);
		let result: unknown = null;
		if (!strip.binned) {
			const partials = (await listStripStats<unknown>(env.DB, job.id)).map((row) => ({
				index: row.index,
				partial: row.stats,
			}));
			result = await process.revisitWindow(context, plan, window, partials);
		}
		const progress = windowProgress("histogram", process.stages(job.request));
		const completion = await completeStripHistogram(env.DB, job.id, index, result, progress);
		await continueWindows(env, "histogram", plan, message, completion, {
			alreadyDone: strip.binned,
			isDone: async (next) => (await getStrip(env.DB, job.id, next))?.binned ?? false,
		});
		const next = completion.remaining === 0 ? await advance(context, "histogram", plan) : undefined;
		return done({
			remaining: completion.remaining,
			total: completion.total,
			...(strip.binned ? { already_done: true } : {}),
			...(next ? { next } : {}),
		});
	},
};
