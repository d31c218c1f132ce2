/**
 * Sends work to a stage's queue; queues take at most 100 messages per batch. Every message is
 * stamped with when it was sent, so the dispatcher can tell how long it waited in the queue.
 */
import { stageDefinition } from "./stage-table";

const SEND_BATCH_LIMIT = 100;

function queueOf(env: Env, stage: string): Queue {
	const producer = stageDefinition(stage).producer;
	const queue = (env as unknown as Record<string, Queue | undefined>)[producer];
	if (!queue) throw new Error(`stage ${stage}: the producer binding ${producer} is not bound`);
	return queue;
}

const stamped = <T>(body: T) => ({ ...body, sent_at: new Date().toISOString() });

export async function sendToStage<T>(env: Env, stage: string, body: T): Promise<void> {
	await queueOf(env, stage).send(stamped(body), { contentType: "json" });
}

export async function sendAllToStage<T>(env: Env, stage: string, bodies: readonly T[]): Promise<void> {
	const queue = queueOf(env, stage);
	for (let start = 0; start < bodies.length; start += SEND_BATCH_LIMIT) {
		await queue.sendBatch(
			bodies
				.slice(start, start + SEND_BATCH_LIMIT)
				.map((body) => ({ body: stamped(body), contentType: "json" as const })),
		);
	}
}
