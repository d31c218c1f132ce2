/**
 * Cancel, the sweeper and retention: jobs that are stopped, stall or age end in a known state,
 * and what they wrote is removed.
 */
import { createMessageBatch, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getJob, insertJob } from "../../src/db/queries";
import { newJobId } from "../../src/ids";
import { compileFormula } from "../../src/indices/formula";
import { applyRetention, sweepJobs } from "../../src/maintenance/tasks";
import { dispatchBatch } from "../../src/pipeline/dispatch";
import { pipelineStages } from "../../src/pipeline/stages";
import { objectKeys } from "../../src/storage/keys";
import worker from "../../src/worker";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { TEST_TENANT_ID } from "../tenants";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** A job of the test tenant that stays queued (no message is sent), with one object written. */
async function queuedJobWithObject(): Promise<string> {
	const job = await insertJob(env.DB, {
		id: newJobId(),
		tenantId: TEST_TENANT_ID,
		indexId: "NDVI",
		formula: compileFormula({ index: "ndvi", inputs: { nir: {}, red: {} } }),
		request: { index: "ndvi", inputs: {} },
		traceId: TRACE_ID,
	});
	await env.BUCKET.put(objectKeys.stripTiles(job.id, 0), new Uint8Array(16));
	return job.id;
}

/** An NDVI job on the sample bands, submitted over HTTP and run to its end. */
async function finishedNdviJob() {
	const red = await upload(red256);
	const nir = await upload(nir256);
	const created = await submitJob({
		index: "ndvi",
		inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
	});
	return { job: await waitForJob((await json<{ id: string }>(created)).id), red, nir };
}

async function objectsOf(jobId: string): Promise<string[]> {
	const listed = await env.BUCKET.list({ prefix: objectKeys.jobPrefix(jobId) });
	return listed.objects.map((object) => object.key);
}

describe("POST /v1/jobs/{id}/cancel", () => {
	it("cancels a live job, deletes what it wrote, and later stage messages do nothing", async () => {
		const id = await queuedJobWithObject();
		const response = await api(`/v1/jobs/${id}/cancel`, { method: "POST" });
		expect(response.status).toBe(200);
		expect((await json<{ status: string }>(response)).status).toBe("canceled");
		expect(await objectsOf(id)).toEqual([]);

		const batch = createMessageBatch(pipelineStages.ingest.queue, [
			{ id: "m1", timestamp: new Date(), attempts: 1, body: { job_id: id, trace_id: TRACE_ID } },
		]);
		await dispatchBatch(batch, env);
		const job = await getJob(env.DB, id);
		expect(job?.status).toBe("canceled");
		expect(job?.stage).toBeNull();
	});

	it("answers 409 for a job that has already ended, and 404 for no job", async () => {
		const id = await queuedJobWithObject();
		expect((await api(`/v1/jobs/${id}/cancel`, { method: "POST" })).status).toBe(200);
		const again = await expectProblem(await api(`/v1/jobs/${id}/cancel`, { method: "POST" }), 409, "job-ended");
		expect(again.detail).toContain("canceled");

		const { job: finished } = await finishedNdviJob();
		expect(finished.status).toBe("succeeded");
		const late = await expectProblem(await api(`/v1/jobs/${finished.id}/cancel`, { method: "POST" }), 409, "job-ended");
		expect(late.detail).toContain("succeeded");
		await expectProblem(
			await api("/v1/jobs/job_0123456789abcdef01234567/cancel", { method: "POST" }),
			404,
			"not-found",
		);
	});
});

describe("the sweeper", () => {
	it("fails a job with no progress past STALLED_JOB_MINUTES, and leaves a moving one alone", async () => {
		const stalled = await queuedJobWithObject();
		await sweepJobs(env, Date.now());
		expect((await getJob(env.DB, stalled))?.status).toBe("queued");

		const report = await sweepJobs(env, Date.now() + (env.STALLED_JOB_MINUTES + 1) * MINUTE_MS);
		expect(report.stalled).toBeGreaterThanOrEqual(1);
		const job = await getJob(env.DB, stalled);
		expect(job?.status).toBe("failed");
		expect(job?.error?.type).toBe("https://eo-edge.dev/problems/job-stalled");
		expect(job?.error?.trace_id).toBe(TRACE_ID);
		expect(await objectsOf(stalled)).toEqual([]);
	});

	it("removes what a stage wrote after its job was canceled", async () => {
		const id = await queuedJobWithObject();
		expect((await api(`/v1/jobs/${id}/cancel`, { method: "POST" })).status).toBe(200);
		// A compute invocation that was already running writes its strip after the cancel.
		await env.BUCKET.put(objectKeys.stripTiles(id, 1), new Uint8Array(16));
		await sweepJobs(env, Date.now());
		expect(await objectsOf(id)).toEqual([]);
	});

	it("runs from the five-minute cron trigger", async () => {
		const stalled = await queuedJobWithObject();
		const controller = createScheduledController({
			cron: "*/5 * * * *",
			scheduledTime: Date.now() + (env.STALLED_JOB_MINUTES + 1) * MINUTE_MS,
		});
		await worker.scheduled(controller, env);
		expect((await getJob(env.DB, stalled))?.status).toBe("failed");
	});
});

describe("retention", () => {
	it("deletes inputs and artifacts past their retention, keeping the job's record", async () => {
		const { job, red, nir } = await finishedNdviJob();
		expect(job.artifacts.length).toBeGreaterThan(0);

		await applyRetention(env, Date.now());
		expect((await api(`/v1/uploads/${red.id}`)).status).toBe(200);

		const days = Math.max(env.UPLOAD_RETENTION_DAYS, env.ARTIFACT_RETENTION_DAYS) + 1;
		const report = await applyRetention(env, Date.now() + days * DAY_MS);
		expect(report.uploads).toBeGreaterThanOrEqual(2);
		expect(report.jobs).toBeGreaterThanOrEqual(1);

		await expectProblem(await api(`/v1/uploads/${red.id}`), 404, "not-found");
		expect(await env.BUCKET.head(objectKeys.upload(red.id))).toBeNull();
		const kept = await json<{ status: string; artifacts: unknown[] }>(await api(`/v1/jobs/${job.id}`));
		expect(kept.status).toBe("succeeded");
		expect(kept.artifacts).toEqual([]);
		await expectProblem(await api(`/v1/jobs/${job.id}/artifacts/result.tif`), 404, "not-found");
		expect(await objectsOf(job.id)).toEqual([]);

		// An expired upload can no longer be used in a new job.
		const reuse = await submitJob({
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
		});
		await expectProblem(reuse, 422, "unknown-upload");
	});
});
