/**
 * A job's end racing its last stages: a cancel or a sweep that lands while store or publish is
 * mid-way, injected at a fixed point of the stage so the interleaving is the same every run.
 * Whatever ends the job first wins, the job never shows artifacts it does not have, and store's
 * upload is aborted rather than completed late.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listArtifacts } from "../../src/db/artifacts";
import { getJob } from "../../src/db/jobs";
import { getResultUpload } from "../../src/db/store";
import { LATE_WRITE_GRACE_MS, sweepJobs } from "../../src/maintenance/tasks";
import { pipelineStages } from "../../src/pipeline/stages";
import { objectKeys } from "../../src/storage/keys";
import { api, expectProblem, json } from "../helpers";
import { deliver, deliverSent, insertNdviJob, recordingEnv } from "../pipeline-driver";
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
	await deliverSent("compute", sent, testEnv);
	await deliverSent("histogram", sent, testEnv);
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
		await deliverSent("store", sent, testEnv);
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

	it("a publish delivered twice at once: the one that finds the job succeeded by the other leaves its artifacts be", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId, message } = await jobAtStore(testEnv, sent);
		await deliverSent("store", sent, testEnv);
		expect(sent.publish).toEqual([message]);

		// Both deliveries found the job running; the second runs whole while the first writes item.json.
		let second: Awaited<ReturnType<typeof deliver>> | undefined;
		const bucket = bucketWithHook(
			(key) => key === objectKeys.artifact(jobId, "item.json"),
			async () => {
				second = await deliver(pipelineStages.publish.queue, message, testEnv);
			},
		);
		const first = await deliver(pipelineStages.publish.queue, message, { ...testEnv, BUCKET: bucket });
		expect(second?.result.explicitAcks).toHaveLength(1);
		expect(first.result.explicitAcks).toEqual([first.id]);

		expect((await getJob(env.DB, jobId))?.status).toBe("succeeded");
		const artifacts = await listArtifacts(env.DB, TEST_TENANT_ID, jobId);
		expect(artifacts.map((artifact) => artifact.name).sort()).toEqual(
			["item.json", "preview.png", "result.tif", "stats.json"].sort(),
		);
		const stored = await objectsOf(jobId);
		for (const artifact of artifacts) expect(stored).toContain(artifact.objectKey);
		for (const name of ["result.tif", "item.json"]) {
			expect((await api(`/v1/jobs/${jobId}/artifacts/${name}`)).status, name).toBe(200);
		}
	});

	it("a sweep landing as store completes result.tif wins: the upload is aborted, nothing is published or left", async () => {
		const { testEnv, sent } = recordingEnv();
		const { jobId } = await jobAtStore(testEnv, sent);

		// Store has uploaded every part; the sweep runs, as if the last part's invocation had
		// started long ago, just before it completes result.tif's upload.
		const sweptAt = Date.now() + (env.STALLED_JOB_MINUTES + 1) * MINUTE_MS;
		const bucket = new Proxy(env.BUCKET, {
			get(target, property) {
				const value = Reflect.get(target, property, target);
				if (property !== "resumeMultipartUpload") return typeof value === "function" ? value.bind(target) : value;
				return (...args: Parameters<R2Bucket["resumeMultipartUpload"]>) => {
					const upload = target.resumeMultipartUpload(...args);
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
		const { deliveries } = await deliverSent("store", sent, { ...testEnv, BUCKET: bucket });
		const failed = await getJob(env.DB, jobId);
		expect(failed?.status).toBe("failed");
		expect(failed?.error?.type).toBe("https://eo-edge.dev/problems/job-stalled");
		// The sweep aborted the upload, so completing it failed and the delivery is retried …
		const retried = deliveries.filter(({ delivery }) => delivery.result.retryMessages.length > 0);
		expect(retried.map(({ body }) => body.task)).toEqual(["part"]);
		expect((await getResultUpload(env.DB, jobId))?.abortedAt).not.toBeNull();
		// … and then dropped, as the job has ended.
		const again = await deliver(pipelineStages.store.queue, retried[0]?.body, testEnv, 2);
		expect(again.result.explicitAcks).toEqual([again.id]);
		expect(sent.publish).toEqual([]);
		expect(await objectsOf(jobId)).toEqual([]);
		expect(await listArtifacts(env.DB, TEST_TENANT_ID, jobId)).toEqual([]);
		const problem = await expectProblem(await api(`/v1/jobs/${jobId}/artifacts/result.tif`), 409, "job-not-succeeded");
		expect(problem.detail).toContain("failed");
		expect(problem.detail).toContain("no progress");

		// The sweeper's pass over ended jobs, once no stage of this one can still be writing.
		await sweepJobs(env, sweptAt + LATE_WRITE_GRACE_MS + 1);
		expect(await objectsOf(jobId)).toEqual([]);
		expect(await getResultUpload(env.DB, jobId)).toBeNull();
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

		await deliverSent("store", sent, testEnv);
		await deliver(pipelineStages.publish.queue, message, testEnv);
		expect((await api(`/v1/jobs/${jobId}/artifacts/result.tif`)).status).toBe(200);
		const unknown = await expectProblem(await api(`/v1/jobs/${jobId}/artifacts/result.tiff`), 404, "not-found");
		expect(unknown.detail).toContain("item.json, preview.png, result.tif, stats.json");
		expect(unknown.errors).toEqual([
			{ path: "param.name", message: "must be one of item.json, preview.png, result.tif, stats.json" },
		]);
	});
});
