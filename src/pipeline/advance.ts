/**
 * Hands a job on from the stage that finished its part to the next stage of its process's
 * sequence: a window stage gets the plan's first windows, any other stage one message.
 */
import type { JobPlan } from "./plan";
import { sendToStage } from "./send";
import type { StageContext } from "./stage";
import { stageDefinition } from "./stage-table";
import { startWindows } from "./windows";

/** The stage after `from` in the job's sequence; throws when `from` is not in it or is the last. */
export function nextStage(sequence: readonly string[], from: string): string {
	const at = sequence.indexOf(from);
	const next = at < 0 ? undefined : sequence[at + 1];
	if (next === undefined) throw new Error(`no stage follows ${from} in ${sequence.join(" → ")}`);
	return next;
}

/**
 * Sends the job to the stage after `from`; a window stage over a plan of no windows (a zonal job
 * whose fields all miss the raster) has nothing to do and is passed over.
 */
export async function advance(context: StageContext, from: string, plan: JobPlan | null): Promise<string> {
	const sequence = context.process.stages(context.job.request);
	let next = nextStage(sequence, from);
	while (stageDefinition(next).windows && plan?.strips.length === 0) next = nextStage(sequence, next);
	const message = { job_id: context.job.id, trace_id: context.traceId };
	if (stageDefinition(next).windows) {
		if (!plan) throw new Error(`job ${context.job.id}: ${next} runs over windows, but the job has no plan`);
		await startWindows(context.env, next, plan, message);
	} else {
		await sendToStage(context.env, next, message);
	}
	return next;
}
