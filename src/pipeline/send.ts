/** Sends work to a stage's queue; queues take at most 100 messages per batch. */
import { pipelineStages, type StageName } from "./stages";

const SEND_BATCH_LIMIT = 100;

function queueOf(env: Env, stage: StageName): Queue {
	return env[pipelineStages[stage].producer];
}

export async function sendToStage<T>(env: Env, stage: StageName, body: T): Promise<void> {
	await queueOf(env, stage).send(body, { contentType: "json" });
}

export async function sendAllToStage<T>(env: Env, stage: StageName, bodies: readonly T[]): Promise<void> {
	const queue = queueOf(env, stage);
	for (let start = 0; start < bodies.length; start += SEND_BATCH_LIMIT) {
		await queue.sendBatch(
			bodies.slice(start, start + SEND_BATCH_LIMIT).map((body) => ({ body, contentType: "json" as const })),
		);
	}
}
