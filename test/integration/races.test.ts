/**
 * A job's end racing its last stages: a cancel or a sweep that lands while store or publish is
 * mid-way, injected at a fixed point of the stage so the interleaving is the same every run.
 * Whatever ends the job first wins, and the job never shows artifacts it does not have.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getJob, listArtifacts } from "../../src/db/queries";
import { LATE_WRITE_GRACE_MS, sweepJobs } from "../../src/maintenance/tasks";
import { pipelineStages } from "../../src/pipeline/stages";
import { objectKeys } from "../../src/storage/keys";
import { api, expectProblem, json } from "../helpers";
import { deliver, deliverAllSent, insertNdviJob, recordingEnv } from "../pipeline-driver";
import { TEST_TENANT_ID } from "../tenants";

const TRACE_ID = "3e9a1c5b7d2f4e6a8c0b1d3f5a7c9e2b";
const MINUTE_MS = 60_000;

afterEach(() => {
	vi.useRealTimers();
	vi.restoreAllMocks();
});

/** The bucket, with `before` awaited ahead of the first `put` of a key that `matches`. */
function bucketWithHook(matches: (key: string) => boolean, before: () => Promise<void>): R2Bucket {
	let fired = false;
	return new Proxy(env.BUCKET, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (typeof value !== "function") return value;
			if (property !== "put") return value.bind(target);
			return async (key: string, ...rest: unknown[]) => {
				if (!fired && matches(key)) {
					fired = true;
					await before();
				}
				return value.call(target, key, ...rest);
			};
		},
	});
}

/** Runs a new job's ingest, validate, compute and histogram messages; returns its id and message. */
async function jobAtStore(testEnv: Env, sent: ReturnType<typeof recordingEnv>["sent"]) {
	const jobId = (await insertNdviJob(TRACE_ID)).id;
	const message = { job_id: jobId, trace_id: TRACE_ID };
	await deliver(pipelineStages.ingest.queue, message, testEnv);
	await deliver(pipelineStages.validate.queue, message, testEnv);
	await deliverAllSent("compute", sent, testEnv);
	await deliverAllSent("histogram", sent, testEnv);
	expect(sent.store).toEqual([message]);
	return { jobId, message };
}

async function objectsOf(jobId: string): Promise<string[]> {
	const listed = await env.BUCKET.list({ prefix: objectKeys.jobPrefix(jobId) });
	return listed.objects.map((object) => object.key);
}

describe("a job ending while its last stages run", () => {
	it("a cancel landing during publish wins: no artifacts are recorded and what publish wrote is removed", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore(testEnv, sent);
		await deliver(pipelineStages.store.queue, message, testEnv);
		expect(sent.publish).toEqual([message]);

		// The dispatcher has found the job running; the cancel lands as publish writes preview.png.
		let canceled = 0;
		const bucket = bucketWithHook(
			(key) => key === objectKeys.artifact(jobId, "preview.png"),
			async () => {
				canceled = (await api(`/v1/jobs/${jobId}/cancel`, { method: "POST" })).status;
			},
		);
		const published = await deliver(pipelineStages.publish.queue, message, { ...testEnv, BUCKET: bucket });
		expect(canceled).toBe(200);
		expect(published.result.explicitAcks).toEqual([published.id]);

		expect((await getJob(env.DB, jobId))?.status).toBe("canceled");
		expect(await listArtifacts(env.DB, TEST_TENANT_ID, jobId)).toEqual([]);
		expect(await objectsOf(jobId)).toEqual([]);
		const job = await json<{ status: string; artifacts: unknown[] }>(await api(`/v1/jobs/${jobId}`));
		expect(job).toMatchObject({ status: "canceled", artifacts: [] });
		const problem = await expectProblem(await api(`/v1/jobs/${jobId}/artifacts/result.tif`), 409, "job-not-succeeded");
		expect(problem.detail).toContain("canceled");
	});

	it("a sweep landing during store wins: publish changes nothing and the late result.tif is removed", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore(testEnv, sent);

		// Store has started (its heartbeat is now) and read every strip; the sweep runs, as if
		// that start was long ago, just before store completes result.tif's upload.
		const sweptAt = Date.now() + (env.STALLED_JOB_MINUTES + 1) * MINUTE_MS;
		const bucket = new Proxy(env.BUCKET, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (property !== "createMultipartUpload") return typeof value === "function" ? value.bind(target) : value;
				return async (...args: Parameters<R2Bucket["createMultipartUpload"]>) => {
					const upload = await target.createMultipartUpload(...args);
					return new Proxy(upload, {
						get(multipart, name) {
							const method = Reflect.get(multipart, name, multipart);
							if (name !== "complete") return typeof method === "function" ? method.bind(multipart) : method;
							return async (parts: R2UploadedPart[]) => {
								// The clock moves too, so the failure is recorded at the sweep's time.
								vi.useFakeTimers({ toFake: ["Date"] });
								vi.setSystemTime(sweptAt);
								await sweepJobs(env, sweptAt);
								return multipart.complete(parts);
							};
						},
					});
				};
			},
		});
		const stored = await deliver(pipelineStages.store.queue, message, { ...testEnv, BUCKET: bucket });
		expect(stored.result.explicitAcks).toEqual([stored.id]);
		const failed = await getJob(env.DB, jobId);
		expect(failed?.status).toBe("failed");
		expect(failed?.error?.type).toBe("https://eo-edge.dev/problems/job-stalled");
		// Store finished its upload after the sweep had removed the job's objects.
		expect(await objectsOf(jobId)).toContain(objectKeys.artifact(jobId, "result.tif"));

		expect(sent.publish).toEqual([message]);
		const published = await deliver(pipelineStages.publish.queue, message, testEnv);
		expect(published.result.explicitAcks).toEqual([published.id]);
		expect((await getJob(env.DB, jobId))?.status).toBe("failed");
		expect(await listArtifacts(env.DB, TEST_TENANT_ID, jobId)).toEqual([]);
		const problem = await expectProblem(await api(`/v1/jobs/${jobId}/artifacts/result.tif`), 409, "job-not-succeeded");
		expect(problem.detail).toContain("failed");
		expect(problem.detail).toContain("no progress");

		// The sweeper's pass over ended jobs, once no stage of this one can still be writing.
		await sweepJobs(env, sweptAt + LATE_WRITE_GRACE_MS + 1);
		expect(await objectsOf(jobId)).toEqual([]);
	});
});

describe("GET /v1/jobs/{id}/artifacts/{name}", () => {
	it("answers 409 with Retry-After while the job is live, and lists the names it has on 404", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore(testEnv, sent);
		const early = await api(`/v1/jobs/${jobId}/artifacts/result.tif`);
		expect(early.headers.get("retry-after")).toBe("1");
		const notFinished = await expectProblem(early, 409, "job-not-finished");
		expect(notFinished.detail).toContain("running");

		await deliver(pipelineStages.store.queue, message, testEnv);
		await deliver(pipelineStages.publish.queue, message, testEnv);
		expect((await api(`/v1/jobs/${jobId}/artifacts/result.tif`)).status).toBe(200);
		const unknown = await expectProblem(await api(`/v1/jobs/${jobId}/artifacts/result.tiff`), 404, "not-found");
		expect(unknown.detail).toContain("preview.png, result.tif, stats.json");
		expect(unknown.errors).toEqual([
			{ path: "param.name", message: "must be one of preview.png, result.tif, stats.json" },
		]);
	});
});
