/**
 * Drives stages message by message through the real dispatcher, with the producer queues
 * replaced by recorders, so a test controls every delivery, redelivery and retry.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import { admitJob, type JobRecord, type JobRequest } from "../src/db/jobs";
import { newJobId } from "../src/ids";
import { compileFormula } from "../src/indices/formula";
import { dispatchBatch } from "../src/pipeline/dispatch";
import { type QueueConsumer, queueConsumers } from "../src/pipeline/registry";
import "../src/processes/registry";
import { stageDefinition } from "../src/pipeline/stage-table";
import { type StageName, stageNames } from "../src/pipeline/stages";
import nir256 from "./fixtures/s2_nir_256.tif";
import red256 from "./fixtures/s2_red_256.tif";
import { upload } from "./helpers";
import { TEST_TENANT_ID } from "./tenants";

export type SentMessages = Record<StageName, Record<string, unknown>[]> & Record<string, Record<string, unknown>[]>;

/**
 * An env whose stage producers record what is sent, by stage: the production stages and
 * `extraStages` (stages a test registered beside them).
 */
export function recordingEnv(overrides: Partial<Env> = {}, extraStages: readonly string[] = []) {
	const stages = [...stageNames, ...extraStages];
	const sent = Object.fromEntries(stages.map((stage) => [stage, []])) as unknown as SentMessages;
	// When each message was sent (sent_at, for the queue wait) differs every run: tests compare the rest.
	const unstamped = ({ sent_at: _sent, ...body }: Record<string, unknown>) => body;
	const queue = (stage: string) => {
		const messages: Record<string, unknown>[] = [];
		sent[stage] = messages;
		return {
			send: async (body: Record<string, unknown>) => {
				messages.push(unstamped(body));
			},
			sendBatch: async (batch: { body: Record<string, unknown> }[]) => {
				messages.push(...batch.map((message) => unstamped(message.body)));
			},
		} as unknown as Queue;
	};
	const producers = Object.fromEntries(
		stages.map((stage) => [stageDefinition(stage).producer, queue(stage)]),
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

/**
 * Records an NDVI job over `inputs` as POST /v1/jobs does (admitJob), with no quota or
 * Idempotency-Key in its way and no message sent: the test delivers them itself.
 */
export async function recordNdviJob(
	inputs: JobRequest["inputs"],
	{ traceId, tenantId = TEST_TENANT_ID }: { traceId: string; tenantId?: string },
): Promise<JobRecord> {
	const admission = await admitJob(
		env.DB,
		{
			id: newJobId(),
			tenantId,
			process: "index",
			indexId: "NDVI",
			formula: compileFormula({ index: "ndvi", inputs: { red: {}, nir: {} } }),
			request: { index: "ndvi", inputs },
			traceId,
			spans: null,
		},
		Number.MAX_SAFE_INTEGER,
		null,
	);
	if (!("job" in admission)) throw new Error(`the job was not recorded (${admission.refused})`);
	return admission.job;
}

/** An NDVI job of the test tenant on two uploaded bands (the sample red and NIR unless given). */
export async function insertNdviJob(
	traceId: string,
	bands: { red: ArrayBuffer; nir: ArrayBuffer } = { red: red256, nir: nir256 },
): Promise<JobRecord> {
	const red = await upload(bands.red);
	const nir = await upload(bands.nir);
	const inputs = {
		red: { upload_id: red.id, band: 1, scale: 1, offset: 0 },
		nir: { upload_id: nir.id, band: 1, scale: 1, offset: 0 },
	};
	return recordNdviJob(inputs, { traceId });
}

/**
 * Delivers every message sent to `stage` from index `from` on, in the order sent, including those
 * the deliveries themselves send, until none is left (store fans out into many messages).
 * Returns each delivery with the message it carried.
 */
export async function deliverSent(
	stage: string,
	sent: SentMessages,
	testEnv: Env,
	{ from = 0, until }: { from?: number; until?: (body: Record<string, unknown>) => boolean } = {},
) {
	const deliveries: { body: Record<string, unknown>; delivery: Awaited<ReturnType<typeof deliver>> }[] = [];
	const messages = sent[stage] ?? [];
	for (let next = from; next < messages.length; next++) {
		const body = messages[next] as Record<string, unknown>;
		if (until?.(body)) return { deliveries, next };
		deliveries.push({ body, delivery: await deliver(stageDefinition(stage).queue, body, testEnv) });
	}
	return { deliveries, next: messages.length };
}
