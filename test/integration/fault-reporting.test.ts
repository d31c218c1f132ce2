import { afterEach, describe, expect, it, vi } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import { ApiError } from "../../src/errors/api-error";
import { type QueueConsumer, queueConsumers } from "../../src/pipeline/registry";
import { pipelineStages } from "../../src/pipeline/stages";
import { inputReadFailure, RasterInputError } from "../../src/raster/input-errors";
import { api, json, submitJob, waitForJob } from "../helpers";
import { deliver, insertNdviJob, recordingEnv, recordNdviJob } from "../pipeline-driver";

const TRACE_ID = "0c1d2e3f405162738495a6b7c8d9eaf1";
const SECRET = "secret internal detail at 10.0.0.5:5432";
const COGS = "https://cogs.test";

/** A job of the test tenant whose bands are both in the remote file `href`, with no message sent. */
function insertRemoteJob(href: string) {
	const inputs = {
		red: { href, band: 1, scale: 1, offset: 0 },
		nir: { href, band: 2, scale: 1, offset: 0 },
	};
	return recordNdviJob(inputs, { traceId: TRACE_ID });
}

afterEach(() => {
	vi.restoreAllMocks();
});

/** The job and its events as the tenant reads them, as raw text. */
async function tenantView(jobId: string): Promise<string> {
	const job = await (await api(`/v1/jobs/${jobId}`)).text();
	const events = await (await api(`/v1/jobs/${jobId}/events`)).text();
	return `${job}\n${events}`;
}

/** The registry with the compute stage replaced by one that always throws `error`. */
function throwingCompute(error: unknown): ReadonlyMap<string, QueueConsumer> {
	const queue = pipelineStages.compute.queue;
	const consumer = queueConsumers.get(queue);
	if (!consumer) throw new Error("no compute consumer");
	const handler = {
		message: consumer.handler.message,
		handle: async () => {
			throw error;
		},
	};
	return new Map([...queueConsumers, [queue, { ...consumer, handler }]]);
}

describe("internal faults", () => {
	it("are retried, then fail the job with the trace id, never the exception's text", async () => {
		const logged = vi.spyOn(console, "error");
		const warned = vi.spyOn(console, "warn");
		const job = await insertNdviJob(TRACE_ID);
		const { testEnv } = recordingEnv();
		const consumers = throwingCompute(new Error(SECRET));
		const body = { job_id: job.id, trace_id: TRACE_ID, strip_index: 0 };
		const queue = pipelineStages.compute.queue;

		const first = await deliver(queue, body, testEnv, 1, consumers);
		expect(first.result.retryMessages).toHaveLength(1);
		const last = await deliver(queue, body, testEnv, pipelineStages.compute.maxRetries + 1, consumers);
		expect(last.result.retryMessages).toHaveLength(1);

		const seen = await tenantView(job.id);
		expect(seen).not.toContain("10.0.0.5");
		expect(seen).not.toContain("secret");
		const { error, status } = await json<Job>(await api(`/v1/jobs/${job.id}`));
		expect(status).toBe("failed");
		expect(error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		expect(error?.trace_id).toBe(TRACE_ID);
		expect(error?.detail).toContain("internal error");
		expect(error?.detail).toContain(TRACE_ID);
		const { events } = await json<{ events: { status: string; detail: Record<string, unknown> | null }[] }>(
			await api(`/v1/jobs/${job.id}/events`),
		);
		expect(events.find((event) => event.status === "retrying")?.detail?.error).toContain(TRACE_ID);
		expect(events.find((event) => event.status === "failed")?.detail?.problem).toEqual(error);

		// The operator still finds the text, under the trace id.
		const lines = [...logged.mock.calls, ...warned.mock.calls].map(([line]) => String(line));
		expect(lines.filter((line) => line.includes(TRACE_ID) && line.includes(SECRET))).toHaveLength(2);
	});

	it("while reading an input are rethrown for a retry, not blamed on the file", () => {
		const input = { name: "nir", uploadId: "upl_000000000000000000000000", href: null };
		expect(() => inputReadFailure(input, new TypeError(SECRET), "decoding rows 0-8")).toThrow(
			"input 'nir': decoding rows 0-8 failed",
		);
		const refused = inputReadFailure(input, new RasterInputError("invalid-raster", "a bad header"), "reading");
		expect(refused).toBeInstanceOf(ApiError);
		expect(refused.code).toBe("invalid-raster");
	});
});

describe("remote hosts", () => {
	async function eventsOf(jobId: string): Promise<string[]> {
		const { events } = await json<{ events: { stage: string; status: string }[] }>(
			await api(`/v1/jobs/${jobId}/events`),
		);
		return events.map((event) => `${event.stage}:${event.status}`);
	}

	async function runWithNir(href: string): Promise<Job> {
		const response = await submitJob({
			index: "ndvi",
			inputs: { red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href } },
		});
		expect(response.status, await response.clone().text()).toBe(202);
		return waitForJob((await json<{ id: string }>(response)).id);
	}

	it.each([
		["refuses the connection", new TypeError("connect ECONNREFUSED 10.0.0.5:5432")],
		["has no DNS name", new TypeError("getaddrinfo ENOTFOUND db.internal.example")],
		["resets the connection", new Error("Network connection lost.")],
	])("that %s are retried, then reported as unreachable with no error text", async (_, thrown) => {
		const job = await insertRemoteJob("https://closed.example.org:8443/b.tif");
		vi.spyOn(globalThis, "fetch").mockRejectedValue(thrown);
		const { testEnv } = recordingEnv();
		const body = { job_id: job.id, trace_id: TRACE_ID };
		const queue = pipelineStages.ingest.queue;
		const first = await deliver(queue, body, testEnv, 1);
		expect(first.result.retryMessages).toHaveLength(1);
		await deliver(queue, body, testEnv, pipelineStages.ingest.maxRetries + 1);

		const { error } = await json<Job>(await api(`/v1/jobs/${job.id}`));
		expect(error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		expect(error?.detail).toMatch(/input 'red': https:\/\/closed\.example\.org:8443\/b\.tif: unreachable$/);
		expect(error?.errors).toEqual([{ path: "inputs.red.href", message: "unreachable" }]);
		expect(await tenantView(job.id)).not.toContain(thrown.message);
	});

	it("that do not answer in time read the same as any other unreachable host", async () => {
		const job = await runWithNir(`${COGS}/slow/s2_nir_256.tif`);
		expect(job.status).toBe("failed");
		expect(job.error?.detail).toMatch(/input 'nir': https:\/\/cogs\.test\/slow\/s2_nir_256\.tif: unreachable$/);
		expect(job.error?.errors).toEqual([{ path: "inputs.nir.href", message: "unreachable" }]);
		expect((await eventsOf(job.id)).filter((event) => event === "ingest:retrying")).toHaveLength(3);
		expect(await tenantView(job.id)).not.toMatch(/timeout|within|aborted/i);
	});

	it("that answer a status are reported by that status", async () => {
		const job = await runWithNir(`${COGS}/status/403/s2_nir_256.tif`);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/input-unavailable");
		expect(job.error?.detail).toContain("answered HTTP 403");
		expect(await eventsOf(job.id)).not.toContain("ingest:retrying");
	});
});
