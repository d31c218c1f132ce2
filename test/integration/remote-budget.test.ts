/**
 * REMOTE_MAX_BYTES_PER_JOB bounds a job's remote reads over every invocation of every stage,
 * not one reader: compute opens new readers per strip, and together they must stay under it.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getJob } from "../../src/db/jobs";
import { remoteBytesRead } from "../../src/db/remote-bytes";
import { pipelineStages, stageNames } from "../../src/pipeline/stages";
import { deliver, recordingEnv, recordNdviJob } from "../pipeline-driver";

const TRACE_ID = "9a8b7c6d5e4f30211203f4e5d6c7b8a9";
const COGS = "https://cogs.test/files";

async function insertRemoteJob() {
	const inputs = {
		red: { href: `${COGS}/s2_red_256.tif`, band: 1, scale: 1, offset: 0 },
		nir: { href: `${COGS}/s2_nir_256.tif`, band: 1, scale: 1, offset: 0 },
	};
	return recordNdviJob(inputs, { traceId: TRACE_ID });
}

/** Runs a remote job stage by stage under `limit`; returns it and the bytes each delivery read. */
async function runRemoteJob(limit: number) {
	const { testEnv, sent } = recordingEnv({ REMOTE_MAX_BYTES_PER_JOB: limit });
	const job = await insertRemoteJob();
	sent.ingest.push({ job_id: job.id, trace_id: TRACE_ID });
	const perDelivery: number[] = [];
	for (const stage of stageNames) {
		for (const body of sent[stage]) {
			const before = await remoteBytesRead(env.DB, job.id);
			await deliver(pipelineStages[stage].queue, body, testEnv);
			perDelivery.push((await remoteBytesRead(env.DB, job.id)) - before);
		}
	}
	return { job: await getJob(env.DB, job.id), perDelivery, total: await remoteBytesRead(env.DB, job.id) };
}

describe("REMOTE_MAX_BYTES_PER_JOB", () => {
	it("bounds the sum of a job's reads over its invocations, though each would fit alone", async () => {
		const unbounded = await runRemoteJob(env.REMOTE_MAX_BYTES_PER_JOB);
		expect(unbounded.job?.status, JSON.stringify(unbounded.job?.error)).toBe("succeeded");
		const largestDelivery = Math.max(...unbounded.perDelivery);
		const limit = largestDelivery + 1;
		// The case under test: no single invocation (validate's headers, compute's strip, each
		// with readers of its own) passes the limit, all of them together do.
		expect(unbounded.perDelivery.filter((bytes) => bytes > 0).length).toBeGreaterThanOrEqual(2);
		expect(unbounded.total).toBeGreaterThan(limit);

		const bounded = await runRemoteJob(limit);
		expect(bounded.job?.status).toBe("failed");
		expect(bounded.job?.stage).toBe("compute");
		expect(bounded.job?.error?.type).toBe("https://eo-edge.dev/problems/input-unavailable");
		expect(bounded.job?.error?.detail).toContain(`REMOTE_MAX_BYTES_PER_JOB (${limit} bytes)`);
		expect(bounded.total).toBeLessThanOrEqual(limit);
	});
});
