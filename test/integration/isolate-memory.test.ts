/**
 * Memory is per isolate: a heavy stage's batch runs its messages one at a time; a light stage's
 * batch runs at once.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { dispatchBatch } from "../../src/pipeline/dispatch";
import { jobMessage } from "../../src/pipeline/message";
import { type QueueConsumer, queueConsumers } from "../../src/pipeline/registry";
import { pipelineStages, type StageName } from "../../src/pipeline/stages";
import { insertNdviJob, recordingEnv } from "../pipeline-driver";

const TRACE_ID = "5e6f708192a3b4c5d6e7f8091a2b3c4d";

/** The registry with `stage` replaced by a handler that takes a while and counts overlaps. */
function countingStage(stage: StageName) {
	const seen = { running: 0, most: 0, handled: 0 };
	const queue = pipelineStages[stage].queue;
	const consumer = queueConsumers.get(queue);
	if (!consumer) throw new Error(`no ${stage} consumer`);
	const handler = {
		message: jobMessage.loose(),
		handle: async () => {
			seen.running++;
			seen.most = Math.max(seen.most, seen.running);
			await new Promise((resolve) => setTimeout(resolve, 20));
			seen.running--;
			seen.handled++;
			return { kind: "done" as const };
		},
	};
	const consumers = new Map<string, QueueConsumer>([...queueConsumers, [queue, { ...consumer, handler }]]);
	return { seen, queue, consumers };
}

async function dispatchMessages(queue: string, jobId: string, count: number, consumers: Map<string, QueueConsumer>) {
	const batch = createMessageBatch(
		queue,
		Array.from({ length: count }, (_, i) => ({
			id: crypto.randomUUID(),
			timestamp: new Date(),
			attempts: 1,
			body: { job_id: jobId, trace_id: TRACE_ID, strip_index: i },
		})),
	);
	const ctx = createExecutionContext();
	await dispatchBatch(batch, recordingEnv().testEnv, consumers);
	return getQueueResult(batch, ctx);
}

describe("isolate memory", () => {
	it.each(["validate", "compute", "store", "publish"] as const)(
		"runs a batch of %s messages one message at a time",
		async (stage) => {
			const job = await insertNdviJob(TRACE_ID);
			const { seen, queue, consumers } = countingStage(stage);
			const result = await dispatchMessages(queue, job.id, 3, consumers);
			expect(seen.handled).toBe(3);
			expect(seen.most).toBe(1);
			expect(result.explicitAcks).toHaveLength(3);
		},
	);

	it("runs a batch of a light stage at once", async () => {
		const job = await insertNdviJob(TRACE_ID);
		const { seen, queue, consumers } = countingStage("ingest");
		await dispatchMessages(queue, job.id, 3, consumers);
		expect(seen.handled).toBe(3);
		expect(seen.most).toBe(3);
	});
});
