/**
 * At-least-once delivery: stages driven message by message through the real dispatcher, with
 * the queues replaced by recorders so every redelivery and retry is under the test's control.
 */

import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getJob } from "../../src/db/jobs";
import { listStripStats } from "../../src/db/windows";
import { retryDelaySeconds } from "../../src/pipeline/dispatch";
import { jobMessage } from "../../src/pipeline/message";
import { jobPlan } from "../../src/pipeline/plan";
import { type QueueConsumer, stageHandlers } from "../../src/pipeline/registry";
import { windowProgress } from "../../src/pipeline/stage-table";
import { deadLetterQueue, pipelineStages } from "../../src/pipeline/stages";
import { indexProcess } from "../../src/processes/index/process";
import { encodeTiles } from "../../src/raster/tiles";
import { objectKeys } from "../../src/storage/keys";
import { tileEncoder } from "../../src/wasm/index";
import overviewsNdvi from "../fixtures/layouts/overviews.f32";
import overviewsNir from "../fixtures/layouts/overviews_nir.tif";
import overviewsRed from "../fixtures/layouts/overviews_red.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, json, submitJob, upload, waitForJob } from "../helpers";
import { numpyHistogram } from "../percentile";
import { deliver, deliverSent, insertNdviJob, recordingEnv } from "../pipeline-driver";

const TRACE_ID = "5c1f2b8e9a7d4c3b8e1f0a2b3c4d5e6f";

/** Strips counted done: only a completed strip has statistics. */
async function doneStrips(jobId: string): Promise<number> {
	return (await listStripStats(env.DB, jobId)).filter((strip) => strip.stats !== null).length;
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("a deployed environment's queues", () => {
	it("reach their stage by the top-level name: eo-edge-ingest-staging is ingest's in staging", async () => {
		const { testEnv, sent } = recordingEnv({ ENVIRONMENT: "staging" });
		const jobId = (await insertNdviJob(TRACE_ID)).id;
		const message = { job_id: jobId, trace_id: TRACE_ID };
		const delivered = await deliver(`${pipelineStages.ingest.queue}-staging`, message, testEnv);
		expect(delivered.result.explicitAcks).toEqual([delivered.id]);
		expect(sent.validate).toEqual([message]);

		// Another environment's name is no queue of this one: the batch waits for a consumer that knows it.
		const stray = await deliver(`${pipelineStages.ingest.queue}-production`, message, testEnv);
		expect(stray.result.retryBatch.retry).toBe(true);
	});
});

describe("redelivery", () => {
	it("counts a redelivered compute strip once and finishes with exact statistics", async () => {
		const { testEnv, sent } = recordingEnv();
		// Larger than one output tile both ways: the test budget plans several windows.
		const jobId = (await insertNdviJob(TRACE_ID, { red: overviewsRed, nir: overviewsNir })).id;
		const message = { job_id: jobId, trace_id: TRACE_ID };

		expect((await deliver(pipelineStages.ingest.queue, message, testEnv)).result.explicitAcks).toHaveLength(1);
		expect(sent.validate).toEqual([message]);
		await deliver(pipelineStages.validate.queue, message, testEnv);
		// A redelivered validate keeps the first plan and re-sends the same strips.
		await deliver(pipelineStages.validate.queue, message, testEnv, 2);
		const strips = jobPlan((await getJob(env.DB, jobId)) ?? { plan: null })?.strips.length ?? 0;
		expect(strips).toBeGreaterThan(env.WINDOWS_IN_FLIGHT_PER_JOB + 1);
		// Only the first windows are queued; each finished one queues the window that many places on.
		const queued = Array.from({ length: env.WINDOWS_IN_FLIGHT_PER_JOB }, (_, index) => ({
			...message,
			strip_index: index,
		}));
		expect(sent.compute).toEqual([...queued, ...queued]);
		const last = strips - 1;

		const first = await deliver(pipelineStages.compute.queue, { ...message, strip_index: 0 }, testEnv);
		expect(first.result.explicitAcks).toEqual([first.id]);
		const again = await deliver(pipelineStages.compute.queue, { ...message, strip_index: 0 }, testEnv, 2);
		expect(again.result.explicitAcks).toEqual([again.id]);
		expect(await doneStrips(jobId)).toBe(1);
		expect(sent.store).toHaveLength(0);
		// Both deliveries of window 0 queue the next one (a redelivery may follow a lost send).
		const next = { ...message, strip_index: env.WINDOWS_IN_FLIGHT_PER_JOB };
		expect(sent.compute.slice(2 * env.WINDOWS_IN_FLIGHT_PER_JOB)).toEqual([next, next]);
		expect((await getJob(env.DB, jobId))?.progress).toBeCloseTo(
			windowProgress("compute", indexProcess.stages({ inputs: {} }))(1, strips),
			10,
		);
		for (let index = 1; index < last; index++) {
			await deliver(pipelineStages.compute.queue, { ...message, strip_index: index }, testEnv);
			expect((await getJob(env.DB, jobId))?.progress).toBeCloseTo(
				windowProgress("compute", indexProcess.stages({ inputs: {} }))(index + 1, strips),
				10,
			);
		}
		expect(sent.store).toHaveLength(0);
		// A window redelivered once the window it queues is done starts no second chain.
		const queuedBefore = sent.compute.length;
		await deliver(pipelineStages.compute.queue, { ...message, strip_index: 0 }, testEnv, 3);
		expect(sent.compute).toHaveLength(queuedBefore);
		// The chain's step is the plan's, whatever a later deploy sets.
		expect(jobPlan((await getJob(env.DB, jobId)) ?? { plan: null })?.windows_in_flight).toBe(
			env.WINDOWS_IN_FLIGHT_PER_JOB,
		);
		// Every window was queued, none past the plan.
		const queuedIndices = new Set(sent.compute.map((body) => body.strip_index));
		expect([...queuedIndices].sort((a, b) => Number(a) - Number(b))).toEqual(
			Array.from({ length: strips }, (_, index) => index),
		);

		// The last strip's first delivery dies after counting, before the histogram's pass is sent.
		const histogramQueue = testEnv.HISTOGRAM_QUEUE;
		const sendHistogram = vi.spyOn(histogramQueue, "sendBatch").mockRejectedValueOnce(new Error("queue unavailable"));
		const crashed = await deliver(pipelineStages.compute.queue, { ...message, strip_index: last }, testEnv);
		expect(crashed.result.retryMessages.map((retry) => retry.msgId)).toEqual([crashed.id]);
		expect(await doneStrips(jobId)).toBe(strips);
		expect(sent.histogram).toHaveLength(0);
		const redelivered = await deliver(pipelineStages.compute.queue, { ...message, strip_index: last }, testEnv, 2);
		expect(redelivered.result.explicitAcks).toEqual([redelivered.id]);
		expect(sendHistogram).toHaveBeenCalledTimes(2);
		expect(sent.histogram).toEqual(queued);
		expect(sent.store).toHaveLength(0);

		// Without fixed edges compute left the tiles to the second pass, which encodes them from the values.
		const partials = (await listStripStats<Record<string, unknown>>(env.DB, jobId)).map((row) => ({
			index: row.index,
			partial: row.stats,
		}));
		for (const { partial } of partials) expect(partial).not.toHaveProperty("tile_bytes");
		// A second pass over window 1 that stored its tiles and died before recording them: its
		// delivery runs it again over the same values, to the same tiles.
		const binning = await getJob(env.DB, jobId);
		const plan = jobPlan(binning ?? { plan: null });
		if (!binning || !plan?.strips[1]) throw new Error("the job has no plan");
		const context = { env: testEnv, job: binning, process: indexProcess, traceId: TRACE_ID, attempt: 1 };
		const lost = await indexProcess.revisitWindow?.(context, plan, plan.strips[1], partials);

		// The second pass fans out the same way; a redelivered window is binned once.
		for (let index = 0; index < strips; index++) {
			await deliver(pipelineStages.histogram.queue, { ...message, strip_index: index }, testEnv);
			if (index === 0) await deliver(pipelineStages.histogram.queue, { ...message, strip_index: 0 }, testEnv, 2);
			const remaining = strips - index - 1;
			expect(sent.store).toHaveLength(remaining === 0 ? 1 : 0);
		}
		expect((await getJob(env.DB, jobId))?.progress).toBeCloseTo(
			windowProgress("histogram", indexProcess.stages({ inputs: {} }))(strips, strips),
			10,
		);
		expect(sent.store).toEqual([message]);
		const binned = await listStripStats<unknown, { tile_bytes: number[] }>(env.DB, jobId);
		expect(binned[1]?.histogram).toEqual(lost);
		for (const row of binned) expect(row.histogram?.tile_bytes.length).toBeGreaterThan(0);

		// Store fans out into blocks and parts; its start redelivered once it is all done queues nothing.
		await deliverSent("store", sent, testEnv);
		const storeMessages = sent.store.length;
		await deliver(pipelineStages.store.queue, message, testEnv, 2);
		expect(sent.store).toHaveLength(storeMessages);
		expect(sent.publish).toEqual([message]);
		// result.tif is stored but not listed until publish has finished the job.
		expect(await env.BUCKET.head(objectKeys.artifact(jobId, "result.tif"))).not.toBeNull();
		expect((await json<{ artifacts: unknown[] }>(await api(`/v1/jobs/${jobId}`))).artifacts).toEqual([]);
		await deliver(pipelineStages.publish.queue, message, testEnv);
		const job = await getJob(env.DB, jobId);
		expect(job?.status).toBe("succeeded");

		const stats = await json<{ count: number; nodata_count: number; histogram: { edges: number[]; counts: number[] } }>(
			await api(`/v1/jobs/${jobId}/artifacts/stats.json`),
		);
		const expected = new Float32Array(overviewsNdvi);
		const nodata = expected.filter((value) => Number.isNaN(value)).length;
		expect(stats.count).toBe(expected.length - nodata);
		expect(stats.nodata_count).toBe(nodata);
		// A window binned twice would count its pixels twice.
		const { edges, counts } = numpyHistogram(expected, 20);
		expect(stats.histogram).toMatchObject({ edges, counts });
		const result = await (await api(`/v1/jobs/${jobId}/artifacts/result.tif`)).arrayBuffer();
		const [pixels] = (await (await fromArrayBuffer(result)).readRasters()) as unknown as Float32Array[];
		expect(pixels).toEqual(expected);
		expect((await env.BUCKET.list({ prefix: objectKeys.workPrefix(jobId) })).objects).toHaveLength(0);

		// Late redeliveries after success are acknowledged and change nothing.
		const late = await deliver(pipelineStages.compute.queue, { ...message, strip_index: last }, testEnv, 3);
		expect(late.result.explicitAcks).toEqual([late.id]);
		await deliver(pipelineStages.publish.queue, message, testEnv, 2);
		expect(sent.store.filter((body) => body.task === undefined)).toHaveLength(1);
		expect((await getJob(env.DB, jobId))?.updatedAt).toBe(job?.updatedAt);
	});

	it("bins a window whose tiles compute encoded before values were stored raw, from those tiles", async () => {
		const { testEnv, sent } = recordingEnv();
		const jobId = (await insertNdviJob(TRACE_ID, { red: overviewsRed, nir: overviewsNir })).id;
		const message = { job_id: jobId, trace_id: TRACE_ID };
		await deliver(pipelineStages.ingest.queue, message, testEnv);
		await deliver(pipelineStages.validate.queue, message, testEnv);
		await deliverSent("compute", sent, testEnv);
		// Window 0 as compute stored it before (a job in flight across that deploy): tiles, their
		// byte counts with its statistics, no values.
		const window = jobPlan((await getJob(env.DB, jobId)) ?? { plan: null })?.strips[0];
		const stored = await env.BUCKET.get(objectKeys.stripValues(jobId, 0));
		if (!window || !stored) throw new Error("window 0 was not computed");
		const values = new Float32Array(await stored.arrayBuffer());
		const width = window.colEnd - window.colStart;
		const tiles = encodeTiles({ values, width, height: window.rowEnd - window.rowStart }, tileEncoder);
		await env.BUCKET.put(objectKeys.stripTiles(jobId, 0), tiles.bytes);
		await env.BUCKET.delete(objectKeys.stripValues(jobId, 0));
		await env.DB.prepare(
			"UPDATE job_strips SET stats_json = json_set(stats_json, '$.tile_bytes', json(?)) WHERE job_id = ? AND strip_index = 0",
		)
			.bind(JSON.stringify(tiles.tileBytes), jobId)
			.run();
		await deliverSent("histogram", sent, testEnv);
		await deliverSent("store", sent, testEnv);
		await deliverSent("publish", sent, testEnv);
		expect((await getJob(env.DB, jobId))?.status).toBe("succeeded");
		const expected = new Float32Array(overviewsNdvi);
		const stats = await json<{ histogram: { edges: number[]; counts: number[] } }>(
			await api(`/v1/jobs/${jobId}/artifacts/stats.json`),
		);
		const { edges, counts } = numpyHistogram(expected, 20);
		expect(stats.histogram).toMatchObject({ edges, counts });
		const result = await (await api(`/v1/jobs/${jobId}/artifacts/result.tif`)).arrayBuffer();
		const [pixels] = (await (await fromArrayBuffer(result)).readRasters()) as unknown as Float32Array[];
		expect(pixels).toEqual(expected);
	});

	it("acknowledges and drops a malformed message instead of retrying it forever", async () => {
		const { testEnv } = recordingEnv();
		const { id, result } = await deliver(pipelineStages.compute.queue, { job_id: 42 }, testEnv);
		expect(result.explicitAcks).toEqual([id]);
		expect(result.retryMessages).toEqual([]);
	});
});

describe("a stage that always throws", () => {
	const alwaysThrows: QueueConsumer = {
		stage: "ingest",
		name: "ingest",
		maxRetries: 2,
		acceptsEndedJobs: false,
		heavy: false,
		handler: {
			message: jobMessage,
			handle: async () => {
				throw new Error("disk on fire");
			},
		},
	};
	const consumers = new Map([["always-throws", alwaysThrows]]);

	it("is retried with exponential backoff, then fails the job and goes to the dead-letter queue", async () => {
		const { testEnv } = recordingEnv({ RETRY_BASE_DELAY_SECONDS: 3 });
		const jobId = (await insertNdviJob(TRACE_ID)).id;
		const message = { job_id: jobId, trace_id: TRACE_ID };

		for (const attempt of [1, 2]) {
			const { id, result, retryOptions } = await deliver("always-throws", message, testEnv, attempt, consumers);
			expect(result.retryMessages).toEqual([{ msgId: id }]);
			expect(retryOptions).toEqual([{ delaySeconds: 3 * 2 ** (attempt - 1) }]);
			expect((await getJob(env.DB, jobId))?.status).toBe("running");
		}
		const last = await deliver("always-throws", message, testEnv, 3, consumers);
		expect(last.result.retryMessages.map((retry) => retry.msgId)).toEqual([last.id]);
		const failed = await getJob(env.DB, jobId);
		expect(failed?.status).toBe("failed");
		expect(failed?.error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		// The exception's text is for the logs; the tenant gets the trace id to quote.
		expect(failed?.error?.detail).not.toContain("disk on fire");
		expect(failed?.error?.detail).toContain(`internal error occurred; it is logged under trace_id ${TRACE_ID}`);
		expect(failed?.error?.trace_id).toBe(TRACE_ID);

		await deliver(deadLetterQueue.queue, message, testEnv);
		const { events } = await json<{ events: { stage: string; status: string; attempt: number }[] }>(
			await api(`/v1/jobs/${jobId}/events`),
		);
		expect(events.map((event) => `${event.stage}:${event.status}:${event.attempt}`)).toEqual([
			"ingest:started:1",
			"ingest:retrying:1",
			"ingest:started:2",
			"ingest:retrying:2",
			"ingest:started:3",
			"ingest:failed:3",
			"dead-letter:started:1",
			"dead-letter:dead_lettered:1",
		]);
		expect((await getJob(env.DB, jobId))?.status).toBe("failed");
	});

	it("ends a job submitted over HTTP as failed through the real queues, never stuck running", async () => {
		vi.spyOn(stageHandlers.store, "handle").mockRejectedValue(new Error("store exploded"));
		const red = await upload(red256);
		const nir = await upload(nir256);
		const response = await submitJob({
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
		});
		const { id } = await json<{ id: string }>(response);
		const job = await waitForJob(id);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("store");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		expect(job.error?.detail).not.toContain("store exploded");
		expect(job.error?.detail).toContain("internal error");
		expect(job.artifacts).toEqual([]);

		const retries = pipelineStages.store.maxRetries;
		const deadline = Date.now() + 10_000;
		let statuses: string[] = [];
		while (Date.now() < deadline) {
			const { events } = await json<{ events: { stage: string; status: string }[] }>(
				await api(`/v1/jobs/${id}/events`),
			);
			statuses = events.filter((event) => event.stage !== "compute").map((event) => `${event.stage}:${event.status}`);
			if (statuses.includes("dead-letter:dead_lettered")) break;
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
		expect(statuses.filter((status) => status === "store:retrying")).toHaveLength(retries);
		expect(statuses).toContain("store:failed");
		expect(statuses).toContain("dead-letter:dead_lettered");
		// The strips the job wrote are gone with it.
		expect((await env.BUCKET.list({ prefix: objectKeys.jobPrefix(id) })).objects).toEqual([]);
	});
});

describe("retry backoff", () => {
	it("doubles from the base delay and is capped at five minutes", () => {
		expect([1, 2, 3, 4].map((attempt) => retryDelaySeconds(2, attempt))).toEqual([2, 4, 8, 16]);
		expect(retryDelaySeconds(2, 20)).toBe(300);
		expect(retryDelaySeconds(0, 3)).toBe(0);
	});
});
