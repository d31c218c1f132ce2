/**
 * Stages that fan out over a job's windows (compute, histogram): one message per window, of
 * which at most `plan.windows_in_flight` are queued at a time, so a job holds that many places
 * in a shared queue and other jobs' windows interleave with its own. The first ones are queued
 * together; each finished window queues the one that many places on.
 */
import { z } from "zod";
import { type JobMessage, jobMessage } from "./message";
import type { JobPlan } from "./plan";
import { sendAllToStage, sendToStage } from "./send";

export const windowMessage = jobMessage.extend({ strip_index: z.number().int().min(0) });
export type WindowMessage = z.infer<typeof windowMessage>;

/** How many windows a stage has done, after one more. */
export interface WindowCompletion {
	remaining: number;
	total: number;
}

/** Queues a stage's first windows. */
export async function startWindows(env: Env, stage: string, plan: JobPlan, message: JobMessage): Promise<void> {
	await sendAllToStage(
		env,
		stage,
		plan.strips
			.slice(0, plan.windows_in_flight ?? plan.strips.length)
			.map((strip) => ({ job_id: message.job_id, trace_id: message.trace_id, strip_index: strip.index })),
	);
}

/**
 * Queues the window `plan.windows_in_flight` places on from this one. A redelivery sends it
 * again when its first try may have died before sending (a lost message would never be sent
 * again), but not when that window is done already, so a redelivery never starts a second chain.
 */
export async function continueWindows(
	env: Env,
	stage: string,
	plan: JobPlan,
	message: WindowMessage,
	{ total }: WindowCompletion,
	redelivered: { alreadyDone: boolean; isDone: (index: number) => Promise<boolean> },
): Promise<void> {
	const next = plan.windows_in_flight === undefined ? total : message.strip_index + plan.windows_in_flight;
	if (next >= total) return;
	if (redelivered.alreadyDone && (await redelivered.isDone(next))) return;
	await sendToStage(env, stage, { ...message, strip_index: next });
}
