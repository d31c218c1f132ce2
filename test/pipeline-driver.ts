/**
 * Drives stages message by message through the real dispatcher, with the producer queues
 * replaced by recorders, so a test controls every delivery, redelivery and retry.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { dispatchBatch } from "../src/pipeline/dispatch";
import { type QueueConsumer, queueConsumers } from "../src/pipeline/registry";
import { pipelineStages, type StageName, stageNames } from "../src/pipeline/stages";

export type SentMessages = Record<StageName, Record<string, unknown>[]>;

export function recordingEnv(overrides: Partial<Env> = {}) {
	const sent = Object.fromEntries(stageNames.map((stage) => [stage, []])) as unknown as SentMessages;
	const queue = (stage: StageName) =>
		({
			send: async (body: Record<string, unknown>) => {
				sent[stage].push(body);
			},
			sendBatch: async (messages: { body: Record<string, unknown> }[]) => {
				sent[stage].push(...messages.map((message) => message.body));
			},
		}) as unknown as Queue;
	const producers = Object.fromEntries(
		stageNames.map((stage) => [pipelineStages[stage].producer, queue(stage)]),
	) as Partial<Env>;
	const testEnv: Env = { ...env, ...producers, ...overrides };
	return { testEnv, sent };
}

/** Delivers one message as the queue would, and reports how the dispatcher settled it. */
export async function deliver(
	queue: string,
	body: unknown,
	testEnv: Env,
	attempts = 1,
	consumers: ReadonlyMap<string, QueueConsumer> = queueConsumers,
) {
	const id = crypto.randomUUID();
	const batch = createMessageBatch(queue, [{ id, timestamp: new Date(), attempts, body }]);
	const [message] = batch.messages;
	if (!message) throw new Error("the batch has no message");
	// getQueueResult does not report retry delays, so the retry call itself is watched.
	const retry = vi.spyOn(message, "retry");
	const ctx = createExecutionContext();
	await dispatchBatch(batch, testEnv, consumers);
	return { id, result: await getQueueResult(batch, ctx), retryOptions: retry.mock.calls.map(([options]) => options) };
}
