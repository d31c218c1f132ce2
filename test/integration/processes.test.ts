/**
 * Processing logic plugs in: a toy process (`valid_pixel_count`, one number per job) and a
 * stage that exists only in this test build run through the real dispatcher and the production
 * stage handlers, with retries and redeliveries, and no stage handler knows of either.
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { beforeEach, describe, expect, it } from "vitest";
import { listArtifacts } from "../../src/db/artifacts";
import { listEvents } from "../../src/db/events";
import { admitJob, getJob, type JobRecord, type JobRequest } from "../../src/db/jobs";
import { listStripStats } from "../../src/db/windows";
import { newJobId } from "../../src/ids";
import { advance } from "../../src/pipeline/advance";
import { jobMessage } from "../../src/pipeline/message";
import { jobPlan } from "../../src/pipeline/plan";
import { registerProcess } from "../../src/pipeline/processes";
import { planRasterWindows } from "../../src/pipeline/raster-plan";
import { registerStage } from "../../src/pipeline/registry";
import type { Process } from "../../src/pipeline/stage";
import { done, type StageHandler } from "../../src/pipeline/stage";
import { pipelineStages } from "../../src/pipeline/stages";
import { withWindowInputs } from "../../src/pipeline/window-inputs";
import { SAMPLE_ARRAYS } from "../../src/raster/samples";
import { ITEM_ARTIFACT, singleDateTime } from "../../src/stac/item";
import { objectKeys } from "../../src/storage/keys";
import overviewsNir from "../fixtures/layouts/overviews_nir.tif";
import overviewsRed from "../fixtures/layouts/overviews_red.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { upload } from "../helpers";
import { deliver, deliverSent, recordingEnv } from "../pipeline-driver";
import { TEST_TENANT_ID } from "../tenants";

const TRACE_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const COUNT_ARTIFACT = "count.json";

/** Windows the toy process fails with a transient error before it computes them. */
const failuresToCome = new Map<number, number>();

interface CountPartial {
	valid: number;
	pixels: number;
}

/** Pixels valid in every input (not its nodata, not NaN), counted per window and summed. */
const validPixelCount: Process = {
	name: "valid_pixel_count",
	stages: () => ["ingest", "validate", "compute", "publish"],
	plan: async ({ env: stageEnv, job }, inputs) => planRasterWindows(stageEnv, job, inputs),
	async computeWindow({ env: stageEnv, job }, plan, window): Promise<CountPartial> {
		const failures = failuresToCome.get(window.index) ?? 0;
		if (failures > 0) {
			failuresToCome.set(window.index, failures - 1);
			throw new Error("a transient fault");
		}
		const pixels = (window.rowEnd - window.rowStart) * (window.colEnd - window.colStart);
		const valid = new Uint8Array(pixels).fill(1);
		await withWindowInputs(stageEnv, job, plan, window, (decoded) => {
			for (const input of plan.inputs) {
				const band = decoded.get(input.name);
				const type = band?.window.sampleTypes[band.position];
				if (!band || !type) throw new Error(`input ${input.name} was not read`);
				const samples = new SAMPLE_ARRAYS[type](pixels);
				band.window.copyBand(band.position, samples);
				samples.forEach((sample, i) => {
					if (sample === band.nodata || Number.isNaN(sample)) valid[i] = 0;
				});
			}
		});
		return { valid: valid.reduce((sum, flag) => sum + flag, 0), pixels };
	},
	async publish({ env: stageEnv, job }) {
		const partials = await listStripStats<CountPartial>(stageEnv.DB, job.id);
		const valid = partials.reduce((sum, { stats }) => sum + (stats?.valid ?? 0), 0);
		const objectKey = objectKeys.artifact(job.id, COUNT_ARTIFACT);
		const body = JSON.stringify({ valid_pixel_count: valid });
		await stageEnv.BUCKET.put(objectKey, body);
		return {
			artifacts: [{ name: COUNT_ARTIFACT, mediaType: "application/json", bytes: body.length, objectKey }],
			warnings: [],
			detail: { valid },
			item: {
				footprint: null,
				time: singleDateTime(job),
				assets: { [COUNT_ARTIFACT]: { roles: ["data"], type: "application/json", title: "Valid pixels" } },
				lineage: "Pixels valid in every input, counted",
			},
		};
	},
};

/** A stage of this test build only: it notes how many windows are done, then hands the job on. */
const AUDIT_STAGE = "audit";
const auditStage: StageHandler = {
	message: jobMessage,
	async handle(_message, context) {
		const windows = (await listStripStats(context.env.DB, context.job.id)).filter((row) => row.stats !== null);
		return done({ windows: windows.length, next: await advance(context, AUDIT_STAGE, jobPlan(context.job)) });
	},
};
const auditDefinition = {
	queue: "eo-edge-test-audit",
	producer: "TEST_AUDIT_QUEUE",
	maxRetries: 2,
	progress: 0.9,
	heavy: false,
};

/** The toy process with the test's stage between compute and publish. */
const auditedCount: Process = {
	...validPixelCount,
	name: "valid_pixel_count_audited",
	stages: () => ["ingest", "validate", "compute", AUDIT_STAGE, "publish"],
};

registerProcess(validPixelCount);
registerProcess(auditedCount);
registerStage(AUDIT_STAGE, auditDefinition, auditStage);

/** What the count must be, from the files decoded here by geotiff.js. */
async function expectedValidPixels(files: readonly ArrayBuffer[], nodata: number): Promise<number> {
	const bands = await Promise.all(
		files.map(async (file) => {
			const [band] = (await (
				await (await fromArrayBuffer(file)).getImage()
			).readRasters()) as unknown as ArrayLike<number>[];
			if (!band) throw new Error("the file has no band");
			return band;
		}),
	);
	const [first] = bands;
	let valid = 0;
	for (let i = 0; i < (first?.length ?? 0); i++) {
		if (bands.every((band) => band[i] !== nodata && !Number.isNaN(band[i]))) valid++;
	}
	return valid;
}

async function recordJob(process: string, bands: { red: ArrayBuffer; nir: ArrayBuffer }): Promise<JobRecord> {
	const red = await upload(bands.red);
	const nir = await upload(bands.nir);
	const request: JobRequest = {
		inputs: {
			red: { upload_id: red.id, band: 1, scale: 1, offset: 0 },
			nir: { upload_id: nir.id, band: 1, scale: 1, offset: 0 },
		},
	};
	const admission = await admitJob(
		env.DB,
		{
			id: newJobId(),
			tenantId: TEST_TENANT_ID,
			process,
			indexId: null,
			formula: null,
			request,
			traceId: TRACE_ID,
			spans: null,
		},
		Number.MAX_SAFE_INTEGER,
		null,
	);
	if (!("job" in admission)) throw new Error("the job was not recorded");
	return admission.job;
}

async function countArtifact(jobId: string): Promise<{ valid_pixel_count: number }> {
	const object = await env.BUCKET.get(objectKeys.artifact(jobId, COUNT_ARTIFACT));
	if (!object) throw new Error(`${COUNT_ARTIFACT} is not stored`);
	return object.json();
}

beforeEach(() => {
	failuresToCome.clear();
});

describe("a process registered by the test build", () => {
	it("runs through ingest, validate, compute and publish with retries and redeliveries", async () => {
		const { testEnv, sent } = recordingEnv();
		// Larger than one output tile both ways: the test budget plans several windows.
		const job = await recordJob(validPixelCount.name, { red: overviewsRed, nir: overviewsNir });
		const message = { job_id: job.id, trace_id: TRACE_ID };
		await deliver(pipelineStages.ingest.queue, message, testEnv);
		await deliver(pipelineStages.validate.queue, message, testEnv);
		const plan = jobPlan((await getJob(env.DB, job.id)) ?? { plan: null });
		expect(plan?.strips.length).toBeGreaterThan(1);

		// The first window fails once: the dispatcher retries it, and its retry computes it.
		failuresToCome.set(0, 1);
		const [firstWindow] = sent.compute;
		const failed = await deliver(pipelineStages.compute.queue, firstWindow, testEnv);
		expect(failed.result.retryMessages).toHaveLength(1);
		expect(failed.result.explicitAcks).toHaveLength(0);
		const retried = await deliver(pipelineStages.compute.queue, firstWindow, testEnv, 2);
		expect(retried.result.explicitAcks).toHaveLength(1);
		// Every window, then each again as a redelivery: no window counts twice.
		await deliverSent("compute", sent, testEnv, { from: 1 });
		for (const body of [...sent.compute]) await deliver(pipelineStages.compute.queue, body, testEnv, 2);
		// The job moved on to publish (again with each redelivery once all were done, as a first
		// delivery may have died before sending), and no stage of the index process ran.
		expect(sent.publish.length).toBeGreaterThan(0);
		for (const body of sent.publish) expect(body).toEqual(message);
		expect(sent.histogram).toEqual([]);
		expect(sent.store).toEqual([]);

		await deliver(pipelineStages.publish.queue, message, testEnv);
		const finished = await getJob(env.DB, job.id);
		expect(finished).toMatchObject({ status: "succeeded", process: validPixelCount.name, indexId: null });
		expect((await countArtifact(job.id)).valid_pixel_count).toBe(
			await expectedValidPixels([overviewsRed, overviewsNir], 0),
		);
		const artifacts = await listArtifacts(env.DB, TEST_TENANT_ID, job.id);
		expect(artifacts.map((artifact) => artifact.name)).toEqual([COUNT_ARTIFACT, ITEM_ARTIFACT]);
	});

	it("runs through a stage added in the test build, in the order its sequence gives", async () => {
		const { testEnv, sent } = recordingEnv({}, [AUDIT_STAGE]);
		const job = await recordJob(auditedCount.name, { red: red256, nir: nir256 });
		const message = { job_id: job.id, trace_id: TRACE_ID };
		await deliver(pipelineStages.ingest.queue, message, testEnv);
		await deliver(pipelineStages.validate.queue, message, testEnv);
		const windows = jobPlan((await getJob(env.DB, job.id)) ?? { plan: null })?.strips.length;
		await deliverSent("compute", sent, testEnv);
		expect(sent.audit).toEqual([message]);
		expect(sent.publish).toEqual([]);

		const audited = await deliver(auditDefinition.queue, message, testEnv);
		expect(audited.result.explicitAcks).toHaveLength(1);
		expect((await getJob(env.DB, job.id))?.stage).toBe(AUDIT_STAGE);
		expect(sent.publish).toEqual([message]);
		// A late duplicate of compute does not move the job back from the later stage.
		await deliver(pipelineStages.compute.queue, sent.compute[0], testEnv, 2);
		expect((await getJob(env.DB, job.id))?.stage).toBe(AUDIT_STAGE);

		await deliver(pipelineStages.publish.queue, message, testEnv);
		expect(await getJob(env.DB, job.id)).toMatchObject({ status: "succeeded", progress: 1 });
		expect((await countArtifact(job.id)).valid_pixel_count).toBe(await expectedValidPixels([red256, nir256], 0));
		const events = await listEvents(env.DB, TEST_TENANT_ID, job.id);
		const auditEvent = events.find((event) => event.stage === AUDIT_STAGE && event.status === "succeeded");
		expect(auditEvent?.detail).toMatchObject({ windows, next: "publish" });
	});

	it("fails a job whose process this deploy does not know, naming it, without retrying", async () => {
		const { testEnv, sent } = recordingEnv();
		const job = await recordJob("no_such_process", { red: red256, nir: nir256 });
		const delivery = await deliver(pipelineStages.ingest.queue, { job_id: job.id, trace_id: TRACE_ID }, testEnv);
		expect(delivery.result.explicitAcks).toHaveLength(1);
		expect(delivery.result.retryMessages).toHaveLength(0);
		const failed = await getJob(env.DB, job.id);
		expect(failed?.status).toBe("failed");
		expect(failed?.error?.detail).toContain("no_such_process");
		expect(sent.validate).toEqual([]);
	});
});
