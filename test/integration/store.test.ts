/**
 * store in many invocations, driven message by message through the dispatcher with real local
 * R2 and D1: the overview tree's blocks, the layout and the parts of result.tif's multipart
 * upload. The windows compute would leave are made here from a random raster (random values
 * compress poorly, so 2560 x 2048 pixels make a result.tif of four 8 MiB parts), and the file is
 * held byte for byte to the serial assembly (test/cog.ts). Redeliveries upload a part again;
 * a cancel or a failure midway, and the sweeper, abort the upload with the parts it holds.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getJob } from "../../src/db/jobs";
import { getResultUpload, listResultParts } from "../../src/db/store";
import { completeStrip, saveJobPlan } from "../../src/db/windows";
import { LATE_WRITE_GRACE_MS, sweepJobs } from "../../src/maintenance/tasks";
import { endJobAsCanceled } from "../../src/pipeline/failure";
import { type JobPlan, windowsOf } from "../../src/pipeline/plan";
import { windowProgress } from "../../src/pipeline/stage-table";
import { pipelineStages } from "../../src/pipeline/stages";
import { RESULT_PART_BYTES } from "../../src/pipeline/store/budget";
import { indexProcess } from "../../src/processes/index/process";
import { objectKeys } from "../../src/storage/keys";
import { assembleCog } from "../cog";
import { api } from "../helpers";
import { deliver, deliverSent, recordingEnv, recordNdviJob } from "../pipeline-driver";
import { randomRaster, TEST_GEO, windowOutput } from "../store-windows";
import { TEST_TENANT_ID } from "../tenants";

const TRACE_ID = "7b3e9d1f5a2c4e6b8d0f1a3c5e7b9d2f";
const STORE = pipelineStages.store.queue;
const MINUTE_MS = 60_000;
const [WIDTH, HEIGHT] = [2560, 2048];
const raster = randomRaster(WIDTH, HEIGHT, 12);
let serial: Uint8Array | null = null;

afterEach(() => {
	vi.useRealTimers();
	vi.restoreAllMocks();
});

/** result.tif as the single store invocation streamed it before the tree. */
async function serialFile(): Promise<Uint8Array> {
	serial ??= (await assembleCog({ width: WIDTH, height: HEIGHT, geo: TEST_GEO, description: "NDVI" }, raster.values))
		.file;
	return serial;
}

/** A job whose 1024 x 1024 windows are all computed: what compute leaves when it asks for store. */
async function jobAtStore() {
	const inputs = {
		red: { upload_id: "upl_000000000000000000000001", band: 1, scale: 1, offset: 0 },
		nir: { upload_id: "upl_000000000000000000000002", band: 1, scale: 1, offset: 0 },
	};
	const job = await recordNdviJob(inputs, { traceId: TRACE_ID });
	const strips = windowsOf(WIDTH, HEIGHT, 1024, 1024);
	const plan: JobPlan = {
		width: WIDTH,
		height: HEIGHT,
		geo: TEST_GEO,
		rows_per_strip: 1024,
		cols_per_strip: 1024,
		windows_in_flight: env.WINDOWS_IN_FLIGHT_PER_JOB,
		strips,
		inputs: [],
	};
	await saveJobPlan(env.DB, job.id, plan);
	for (const strip of strips) {
		const output = windowOutput(raster, strip);
		await env.BUCKET.put(objectKeys.stripTiles(job.id, strip.index), output.tiles);
		await env.BUCKET.put(objectKeys.stripHalf(job.id, strip.index), output.half);
		await completeStrip(
			env.DB,
			job.id,
			strip.index,
			{ tile_bytes: output.tileBytes },
			windowProgress("compute", indexProcess.stages({ inputs: {} })),
		);
	}
	return { jobId: job.id, message: { job_id: job.id, trace_id: TRACE_ID } };
}

const taskOf = (body: Record<string, unknown>) => (body.task as string | undefined) ?? "begin";

async function resultBytes(jobId: string): Promise<Uint8Array> {
	const object = await env.BUCKET.get(objectKeys.artifact(jobId, "result.tif"));
	if (!object) throw new Error("result.tif is not stored");
	return new Uint8Array(await object.arrayBuffer());
}

function expectSameBytes(got: Uint8Array, want: Uint8Array) {
	expect(got.byteLength).toBe(want.byteLength);
	// The first differing byte, if any, rather than a matcher's diff of megabytes.
	expect(got.findIndex((byte, i) => byte !== want[i])).toBe(-1);
}

async function objectsOf(jobId: string): Promise<string[]> {
	const listed = await env.BUCKET.list({ prefix: objectKeys.jobPrefix(jobId) });
	return listed.objects.map((object) => object.key);
}

/** Whether R2 still has the multipart upload: it takes a part only while it is in progress. */
async function uploadStillOpen(objectKey: string, multipartId: string): Promise<boolean> {
	try {
		await env.BUCKET.resumeMultipartUpload(objectKey, multipartId).uploadPart(1, new Uint8Array(8));
		return true;
	} catch {
		return false;
	}
}

/** The bucket, with `before` awaited ahead of the first uploadPart of part `part`. */
function bucketBeforePart(part: number, before: () => Promise<void>): R2Bucket {
	return new Proxy(env.BUCKET, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (property !== "resumeMultipartUpload") return typeof value === "function" ? value.bind(target) : value;
			return (...args: Parameters<R2Bucket["resumeMultipartUpload"]>) => {
				const upload = target.resumeMultipartUpload(...args);
				return new Proxy(upload, {
					get(multipart, name) {
						const method = Reflect.get(multipart, name, multipart);
						if (name !== "uploadPart") return typeof method === "function" ? method.bind(multipart) : method;
						return async (number: number, ...rest: unknown[]) => {
							if (number === part) await before();
							return (method as (...a: unknown[]) => Promise<R2UploadedPart>).call(multipart, number, ...rest);
						};
					},
				});
			};
		},
	});
}

describe("store in many invocations", () => {
	it("builds the overview tree and uploads result.tif's parts from separate invocations, byte-identical to the serial assembly", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore();
		const begun = await deliver(STORE, message, testEnv);
		expect(begun.result.explicitAcks).toEqual([begun.id]);
		const { deliveries } = await deliverSent("store", sent, testEnv);
		for (const { delivery } of deliveries) expect(delivery.result.explicitAcks).toEqual([delivery.id]);

		// Level 1 (1280 x 1024: 3 x 2 tiles) in two blocks, then the top block (levels 2 and 3).
		const tasks = sent.store.map((body) => `${taskOf(body)}${body.level ?? ""}`);
		expect(tasks.filter((task) => task === "overview1")).toHaveLength(2);
		expect(tasks.filter((task) => task === "overview2")).toHaveLength(1);
		expect(tasks.filter((task) => task === "layout")).toHaveLength(1);
		const upload = await getResultUpload(env.DB, jobId);
		const want = await serialFile();
		expect(upload?.partCount).toBe(Math.ceil(want.byteLength / RESULT_PART_BYTES));
		expect(upload?.partCount).toBeGreaterThanOrEqual(3);
		// One invocation per part, each queued by the one WINDOWS_IN_FLIGHT_PER_JOB places before.
		expect(sent.store.filter((body) => body.task === "part").map((body) => body.part)).toEqual(
			Array.from({ length: upload?.partCount ?? 0 }, (_, i) => i + 1),
		);
		expect(upload?.completedAt).not.toBeNull();
		expect(sent.publish).toEqual([message]);
		expectSameBytes(await resultBytes(jobId), want);
	});

	it("uploads a redelivered part again, completes with its last ETag, and changes nothing once complete", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore();
		await deliver(STORE, message, testEnv);
		const untilParts = await deliverSent("store", sent, testEnv, { until: (body) => body.task === "part" });
		const part1 = { ...message, task: "part", part: 1 };
		await deliver(STORE, part1, testEnv);
		const [first] = await listResultParts(env.DB, jobId);
		// The same part again (its first delivery's acknowledgement was lost): uploaded and recorded again.
		const again = await deliver(STORE, part1, testEnv, 2);
		expect(again.result.explicitAcks).toEqual([again.id]);
		const [second] = await listResultParts(env.DB, jobId);
		// Local R2 gives every upload of a part a new ETag (R2 gives the MD5 of its bytes, the
		// same for the same bytes): the one recorded is the last, which completing needs.
		expect(second?.partNumber).toBe(1);
		expect(second?.etag).not.toBe(first?.etag);
		// Both deliveries queued part 1 + WINDOWS_IN_FLIGHT_PER_JOB: part 3 was not done yet.
		const queuedThree = sent.store.filter((body) => body.task === "part" && body.part === 3);
		expect(queuedThree).toHaveLength(2);

		await deliverSent("store", sent, testEnv, { from: untilParts.next });
		expect((await getResultUpload(env.DB, jobId))?.completedAt).not.toBeNull();
		const want = await serialFile();
		expectSameBytes(await resultBytes(jobId), want);
		expect(sent.publish.length).toBeGreaterThanOrEqual(1);

		// Late redeliveries once the upload is complete: a part asks for publish again and
		// uploads nothing; store's start and a block queue nothing.
		const queuedBefore = sent.store.length;
		const late = await deliver(STORE, part1, testEnv, 3);
		expect(late.result.explicitAcks).toEqual([late.id]);
		await deliver(STORE, message, testEnv, 2);
		await deliver(STORE, { ...message, task: "overview", level: 1, block: 0 }, testEnv, 2);
		await deliver(STORE, { ...message, task: "layout" }, testEnv, 2);
		expect(sent.store).toHaveLength(queuedBefore);
		expect(sent.publish.at(-1)).toEqual(message);
		expectSameBytes(await resultBytes(jobId), want);
	});

	it("a cancel while parts upload aborts the upload: no part is left, and later parts do nothing", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore();
		await deliver(STORE, message, testEnv);
		const untilParts = await deliverSent("store", sent, testEnv, { until: (body) => body.task === "part" });
		await deliver(STORE, { ...message, task: "part", part: 1 }, testEnv);
		const upload = await getResultUpload(env.DB, jobId);
		if (!upload) throw new Error("no upload recorded");

		// The cancel lands as part 2 is about to be uploaded; the dispatcher had let it in.
		let canceled = 0;
		const bucket = bucketBeforePart(2, async () => {
			canceled = (await api(`/v1/jobs/${jobId}/cancel`, { method: "POST" })).status;
		});
		const interrupted = await deliver(STORE, { ...message, task: "part", part: 2 }, { ...testEnv, BUCKET: bucket });
		expect(canceled).toBe(200);
		// Its part could not be uploaded into an aborted upload: retried, then dropped as the job ended.
		expect(interrupted.result.retryMessages.map((retry) => retry.msgId)).toEqual([interrupted.id]);
		const dropped = await deliver(STORE, { ...message, task: "part", part: 2 }, testEnv, 2);
		expect(dropped.result.explicitAcks).toEqual([dropped.id]);
		await deliverSent("store", sent, testEnv, { from: untilParts.next });

		expect((await getJob(env.DB, jobId))?.status).toBe("canceled");
		expect((await getResultUpload(env.DB, jobId))?.abortedAt).not.toBeNull();
		expect(await uploadStillOpen(upload.objectKey, upload.multipartId)).toBe(false);
		expect(await objectsOf(jobId)).toEqual([]);
		expect(sent.publish).toEqual([]);
	});

	it("a part failing its last attempt fails the job and aborts the upload", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore();
		await deliver(STORE, message, testEnv);
		await deliverSent("store", sent, testEnv, { until: (body) => body.task === "part" });
		await deliver(STORE, { ...message, task: "part", part: 1 }, testEnv);
		const upload = await getResultUpload(env.DB, jobId);
		if (!upload) throw new Error("no upload recorded");

		// A window's tiles are gone: the last part, which holds some of them, cannot be read.
		await env.BUCKET.delete(objectKeys.stripTiles(jobId, 5));
		const last = pipelineStages.store.maxRetries + 1;
		const failing = await deliver(STORE, { ...message, task: "part", part: 4 }, testEnv, last);
		expect(failing.result.retryMessages.map((retry) => retry.msgId)).toEqual([failing.id]);
		const job = await getJob(env.DB, jobId);
		expect(job?.status).toBe("failed");
		expect(job?.error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		expect((await getResultUpload(env.DB, jobId))?.abortedAt).not.toBeNull();
		expect(await uploadStillOpen(upload.objectKey, upload.multipartId)).toBe(false);
		expect(await objectsOf(jobId)).toEqual([]);
	});

	it("an upload the job's end could not abort, or made after it, is aborted by the sweeper or by its maker", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore();
		await deliver(STORE, message, testEnv);
		await deliverSent("store", sent, testEnv, { until: (body) => body.task === "part" });
		await deliver(STORE, { ...message, task: "part", part: 1 }, testEnv);
		const upload = await getResultUpload(env.DB, jobId);
		if (!upload) throw new Error("no upload recorded");

		// R2 refuses the abort when the cancel ends the job: the upload stays open, recorded.
		const refusing = new Proxy(env.BUCKET, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (property !== "resumeMultipartUpload") return typeof value === "function" ? value.bind(target) : value;
				return (...args: Parameters<R2Bucket["resumeMultipartUpload"]>) => ({
					...target.resumeMultipartUpload(...args),
					abort: async () => {
						throw new Error("R2 is unavailable");
					},
				});
			},
		});
		expect(await endJobAsCanceled({ ...env, BUCKET: refusing }, TEST_TENANT_ID, jobId, TRACE_ID)).toBe(true);
		expect((await getResultUpload(env.DB, jobId))?.abortedAt).toBeNull();
		expect(await uploadStillOpen(upload.objectKey, upload.multipartId)).toBe(true);

		// The sweeper's pass over ended jobs, once no stage of this one can still be writing.
		const endedAt = Date.parse((await getJob(env.DB, jobId))?.updatedAt ?? "");
		await sweepJobs(env, endedAt + LATE_WRITE_GRACE_MS + MINUTE_MS);
		expect(await uploadStillOpen(upload.objectKey, upload.multipartId)).toBe(false);
		expect(await getResultUpload(env.DB, jobId)).toBeNull();
		expect(await objectsOf(jobId)).toEqual([]);

		// A layout that runs after the job ended records no upload and aborts the one it made.
		const late = await jobAtStore();
		const from = sent.store.length;
		await deliver(STORE, late.message, testEnv);
		await deliverSent("store", sent, testEnv, { from, until: (body) => body.task === "layout" });
		const created: { key: string; id: string }[] = [];
		const watching = new Proxy(env.BUCKET, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (property !== "createMultipartUpload") return typeof value === "function" ? value.bind(target) : value;
				return async (...args: Parameters<R2Bucket["createMultipartUpload"]>) => {
					const made = await target.createMultipartUpload(...args);
					created.push({ key: made.key, id: made.uploadId });
					await api(`/v1/jobs/${late.jobId}/cancel`, { method: "POST" });
					return made;
				};
			},
		});
		const laidOut = await deliver(STORE, { ...late.message, task: "layout" }, { ...testEnv, BUCKET: watching });
		expect(laidOut.result.explicitAcks).toEqual([laidOut.id]);
		expect(created).toHaveLength(1);
		expect(await getResultUpload(env.DB, late.jobId)).toBeNull();
		expect(await uploadStillOpen(created[0]?.key ?? "", created[0]?.id ?? "")).toBe(false);
		expect(sent.store.slice(from).filter((body) => body.task === "part")).toEqual([]);
	});
});
