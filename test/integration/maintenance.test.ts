/**
 * Cancel, the sweeper and retention: jobs that are stopped, stall or age end in a known state,
 * and what they wrote is removed.
 */
import "../../src/processes/registry";
import { createMessageBatch, createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getJob, markStageRunning } from "../../src/db/jobs";
import { applyRetention, LATE_WRITE_GRACE_MS, sweepJobs, UNSTARTED_RESEND_MS } from "../../src/maintenance/tasks";
import { dispatchBatch } from "../../src/pipeline/dispatch";
import { pipelineStages } from "../../src/pipeline/stages";
import { objectKeys } from "../../src/storage/keys";
import worker from "../../src/worker";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, apiWith, expectProblem, failingDatabase, json, submitJob, upload, waitForJob } from "../helpers";
import { deliver, insertNdviJob, recordingEnv, recordNdviJob } from "../pipeline-driver";
import { TEST_TENANT_ID } from "../tenants";

const TRACE_ID = "0af7651916cd43dd8448eb211c80319c";
const MINUTE_MS = 60_000;
const DAY_MS = 24 * 60 * MINUTE_MS;

/** A job of the test tenant that stays queued (no message is sent), with one object written. */
async function queuedJobWithObject(): Promise<string> {
	const job = await recordNdviJob({}, { traceId: TRACE_ID });
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
	it("fails a job whose running stage made no progress past STALLED_JOB_MINUTES", async () => {
		const stalled = await queuedJobWithObject();
		await markStageRunning(env.DB, stalled, "compute", pipelineStages.compute.progress, [
			"ingest",
			"validate",
			"compute",
		]);
		await sweepJobs(env, Date.now());
		expect((await getJob(env.DB, stalled))?.status).toBe("running");

		const report = await sweepJobs(env, Date.now() + (env.STALLED_JOB_MINUTES + 1) * MINUTE_MS);
		expect(report.stalled).toBeGreaterThanOrEqual(1);
		const job = await getJob(env.DB, stalled);
		expect(job?.status).toBe("failed");
		expect(job?.error?.type).toBe("https://eo-edge.dev/problems/job-stalled");
		expect(job?.error?.detail).toContain("no progress at stage compute");
		expect(job?.error?.trace_id).toBe(TRACE_ID);
		expect(await objectsOf(stalled)).toEqual([]);
	});

	it("ends a job by cancel or by the sweeper even when its log row cannot be written", async () => {
		const noLogRows = { DB: failingDatabase(env.DB, (sql) => sql.includes("INSERT INTO job_logs")) };
		const canceled = await queuedJobWithObject();
		const response = await apiWith(noLogRows, `/v1/jobs/${canceled}/cancel`, { method: "POST" });
		expect(response.status, await response.clone().text()).toBe(200);
		expect((await getJob(env.DB, canceled))?.status).toBe("canceled");

		const stalled = await queuedJobWithObject();
		await markStageRunning(env.DB, stalled, "compute", pipelineStages.compute.progress, [
			"ingest",
			"validate",
			"compute",
		]);
		const later = Date.now() + (env.STALLED_JOB_MINUTES + 1) * MINUTE_MS;
		expect((await sweepJobs({ ...env, ...noLogRows }, later)).stalled).toBeGreaterThanOrEqual(1);
		expect((await getJob(env.DB, stalled))?.status).toBe("failed");
	});

	it("leaves a job waiting in a queue alone until the queue would have dropped its message", async () => {
		const queued = await queuedJobWithObject();
		// Its first stage ran and handed over; the next message waits behind other tenants' work.
		const { testEnv, sent } = recordingEnv();
		await deliver(pipelineStages.ingest.queue, { job_id: queued, trace_id: TRACE_ID }, testEnv);
		const { id: neverStarted } = await insertNdviJob(TRACE_ID);

		const hourLater = await sweepJobs(testEnv, Date.now() + 60 * MINUTE_MS);
		expect(hourLater.stalled).toBe(0);
		expect((await getJob(env.DB, queued))?.status).toBe("running");
		expect((await getJob(env.DB, neverStarted))?.status).toBe("queued");
		// A job whose first stage never started may have lost its message: ingest gets it again.
		expect(sent.ingest).toContainEqual({ job_id: neverStarted, trace_id: TRACE_ID });

		await sweepJobs(testEnv, Date.now() + 4 * DAY_MS + MINUTE_MS);
		for (const id of [queued]) {
			const job = await getJob(env.DB, id);
			expect(job?.status).toBe("failed");
			expect(job?.error?.type).toBe("https://eo-edge.dev/problems/job-stalled");
			expect(job?.error?.detail).toContain("longer than a queue keeps one");
		}
	});

	it("sends a job whose first stage never started to ingest again, once per interval", async () => {
		const { testEnv, sent } = recordingEnv();
		const { id } = await insertNdviJob(TRACE_ID);
		const message = { job_id: id, trace_id: TRACE_ID };
		const start = Date.now();
		await sweepJobs(testEnv, start + UNSTARTED_RESEND_MS / 2);
		expect(sent.ingest).not.toContainEqual(message);
		await sweepJobs(testEnv, start + UNSTARTED_RESEND_MS + MINUTE_MS);
		expect(sent.ingest.filter((body) => body.job_id === id)).toHaveLength(1);
		// Sent again, it waits a whole interval before the next.
		await sweepJobs(testEnv, start + UNSTARTED_RESEND_MS + 2 * MINUTE_MS);
		expect(sent.ingest.filter((body) => body.job_id === id)).toHaveLength(1);
		await sweepJobs(testEnv, start + 2 * UNSTARTED_RESEND_MS + 2 * MINUTE_MS);
		expect(sent.ingest.filter((body) => body.job_id === id)).toHaveLength(2);
		// Once ingest has run, it is never sent again by the sweeper.
		await deliver(pipelineStages.ingest.queue, message, testEnv);
		const afterIngest = sent.ingest.length;
		await sweepJobs(testEnv, start + 4 * UNSTARTED_RESEND_MS);
		expect(sent.ingest.filter((body) => body.job_id === id)).toHaveLength(2);
		expect(sent.ingest).toHaveLength(afterIngest);
	});

	it("removes what a stage wrote after its job was canceled, once no stage can still be writing", async () => {
		const id = await queuedJobWithObject();
		expect((await api(`/v1/jobs/${id}/cancel`, { method: "POST" })).status).toBe(200);
		// A compute invocation that was already running writes its strip after the cancel.
		await env.BUCKET.put(objectKeys.stripTiles(id, 1), new Uint8Array(16));
		await sweepJobs(env, Date.now() + LATE_WRITE_GRACE_MS + 1);
		expect(await objectsOf(id)).toEqual([]);
	});

	it("runs from the five-minute cron trigger", async () => {
		const stalled = await queuedJobWithObject();
		await markStageRunning(env.DB, stalled, "ingest", pipelineStages.ingest.progress, ["ingest"]);
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

describe("upkeep at volume", () => {
	const JOBS = 2000;
	const SESSIONS = 1000;
	const bulkCount = async (sql: string) => (await env.DB.prepare(sql).first<{ n: number }>())?.n;

	it("reaches every expired row in one run: thousands of ended jobs, their strips, events and log rows, uploads and sessions", async () => {
		const longAgo = new Date(
			Date.now() - (Math.max(env.UPLOAD_RETENTION_DAYS, env.ARTIFACT_RETENTION_DAYS) + 1) * DAY_MS,
		);
		const at = longAgo.toISOString();
		// Ended jobs in all three end states, each with a strip row and two events; ended upload
		// sessions with two parts each; uploads past retention.
		await env.DB.batch([
			env.DB.prepare(
				`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
				 INSERT INTO jobs (id, tenant_id, index_id, request_json, status, stage, progress, trace_id, created_at, updated_at)
				 SELECT 'job_bulk' || printf('%016d', i), ?, 'NDVI', '{}',
				   CASE i % 3 WHEN 0 THEN 'succeeded' WHEN 1 THEN 'failed' ELSE 'canceled' END, 'publish', 1, ?, ?, ? FROM n`,
			).bind(JOBS, TEST_TENANT_ID, TRACE_ID, at, at),
			env.DB.prepare(
				`INSERT INTO job_strips (job_id, strip_index, row_start, row_end, stats_json, done_at)
				 SELECT id, 0, 0, 256, '{"histogram_counts":[]}', ? FROM jobs WHERE id LIKE 'job_bulk%'`,
			).bind(at),
			env.DB.prepare(
				`INSERT INTO job_events (job_id, stage, status, at, attempt, trace_id)
				 SELECT id, 'ingest', 'started', ?, 1, ? FROM jobs WHERE id LIKE 'job_bulk%'
				 UNION ALL SELECT id, 'ingest', 'succeeded', ?, 1, ? FROM jobs WHERE id LIKE 'job_bulk%'`,
			).bind(at, TRACE_ID, at, TRACE_ID),
			env.DB.prepare(
				`INSERT INTO job_logs (job_id, at, level, stage, message, trace_id, span_id)
				 SELECT id, ?, 'info', 'ingest', 'ingest started', ?, '00f067aa0ba902b7' FROM jobs WHERE id LIKE 'job_bulk%'`,
			).bind(at, TRACE_ID),
			env.DB.prepare(
				`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1)
				 INSERT INTO upload_sessions (id, tenant_id, object_key, multipart_id, bytes, part_bytes, status, trace_id, created_at)
				 SELECT 'upl_bulk' || printf('%016d', i), ?, 'uploads/bulk.tif', 'mp', 10, 5,
				   CASE i % 2 WHEN 0 THEN 'completed' ELSE 'aborted' END, ?, ? FROM n`,
			).bind(SESSIONS, TEST_TENANT_ID, TRACE_ID, at),
			env.DB.prepare(
				`INSERT INTO upload_parts (upload_id, part_number, bytes, etag)
				 SELECT id, 1, 5, 'e1' FROM upload_sessions WHERE id LIKE 'upl_bulk%'
				 UNION ALL SELECT id, 2, 5, 'e2' FROM upload_sessions WHERE id LIKE 'upl_bulk%'`,
			),
			env.DB.prepare(
				`INSERT INTO uploads (id, tenant_id, object_key, bytes, raster_json, trace_id, created_at)
				 SELECT id, tenant_id, 'uploads/' || id || '.tif', 10, '{}', trace_id, created_at
				 FROM upload_sessions WHERE id LIKE 'upl_bulk%'`,
			),
		]);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM job_strips WHERE job_id LIKE 'job_bulk%'")).toBe(JOBS);

		const swept = await sweepJobs(env, Date.now());
		expect(swept.cleaned).toBeGreaterThanOrEqual(JOBS);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM jobs WHERE id LIKE 'job_bulk%' AND cleaned_at IS NULL")).toBe(0);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM job_strips WHERE job_id LIKE 'job_bulk%'")).toBe(0);

		const retained = await applyRetention(env, Date.now());
		expect(retained.jobs).toBeGreaterThanOrEqual(JOBS);
		expect(retained.uploads).toBeGreaterThanOrEqual(SESSIONS);
		expect(retained.uploadSessions).toBeGreaterThanOrEqual(SESSIONS);
		expect(
			await bulkCount("SELECT COUNT(*) AS n FROM jobs WHERE id LIKE 'job_bulk%' AND artifacts_expired_at IS NULL"),
		).toBe(0);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM job_events WHERE job_id LIKE 'job_bulk%'")).toBe(0);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM job_logs WHERE job_id LIKE 'job_bulk%'")).toBe(0);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM upload_sessions WHERE id LIKE 'upl_bulk%'")).toBe(0);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM upload_parts WHERE upload_id LIKE 'upl_bulk%'")).toBe(0);
		expect(await bulkCount("SELECT COUNT(*) AS n FROM uploads WHERE id LIKE 'upl_bulk%' AND expired_at IS NULL")).toBe(
			0,
		);
		// The job records stay, with how they ended.
		expect(await bulkCount("SELECT COUNT(*) AS n FROM jobs WHERE id LIKE 'job_bulk%'")).toBe(JOBS);
	});
});
