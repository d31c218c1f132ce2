/**
 * Inputs given by href: Cloud-Optimized GeoTIFFs read over HTTPS by byte ranges. The host
 * cogs.test is test/node/remote-cogs.ts, which serves test/fixtures and fails on request.
 */
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import ndviS2 from "../fixtures/ndvi_s2_256.f32";
import nir256 from "../fixtures/s2_nir_256.tif";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { createTenantKey } from "../tenants";

const COGS = "https://cogs.test";

async function runNdvi(inputs: Record<string, unknown>): Promise<Job> {
	const response = await submitJob({ index: "ndvi", inputs });
	expect(response.status, await response.clone().text()).toBe(202);
	return waitForJob((await json<{ id: string }>(response)).id);
}

async function eventsOf(jobId: string): Promise<string[]> {
	const { events } = await json<{ events: { stage: string; status: string }[] }>(await api(`/v1/jobs/${jobId}/events`));
	return events.map((event) => `${event.stage}:${event.status}`);
}

/** A job whose red band is a good remote file and whose nir band is `href`. */
function withNir(href: string) {
	return runNdvi({ red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href } });
}

describe("remote inputs", () => {
	it("compute numpy's NDVI from a remote COG and an upload together", async () => {
		const nir = await upload(nir256);
		const job = await runNdvi({ red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { upload_id: nir.id } });
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
		const result = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
		const [pixels] = (await (
			await (await fromArrayBuffer(result)).getImage()
		).readRasters()) as unknown as Float32Array[];
		const expected = new Float32Array(ndviS2);
		expect(pixels?.length).toBe(expected.length);
		const differing = expected.findIndex(
			(want, i) => !Object.is(want, pixels?.[i]) && !(Number.isNaN(want) && Number.isNaN(pixels?.[i])),
		);
		expect(differing).toBe(-1);
	});

	it.each([
		["answers 404", `${COGS}/status/404/s2_nir_256.tif`, "input-unavailable", "not found"],
		["ignores Range and would send the whole file", `${COGS}/no-range/s2_nir_256.tif`, "input-unavailable", "Range"],
		["is not a TIFF", `${COGS}/files/not_a_tiff.tif`, "invalid-raster", "not a TIFF"],
	])("fail the job at ingest, without retrying, when the file %s", async (_, href, code, reason) => {
		const job = await withNir(href);
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("ingest");
		expect(job.error?.type).toBe(`https://eo-edge.dev/problems/${code}`);
		expect(job.error?.detail).toContain("input 'nir'");
		expect(job.error?.detail).toContain(reason);
		expect(await eventsOf(job.id)).not.toContain("ingest:retrying");
	});

	it("retry a server error and succeed once the server recovers", async () => {
		const job = await withNir(`${COGS}/flaky/${crypto.randomUUID()}/s2_nir_256.tif`);
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
		const events = await eventsOf(job.id);
		expect(events.filter((event) => event === "ingest:retrying")).toHaveLength(1);
	});

	it.each([
		["keeps answering 500", `${COGS}/status/500/s2_nir_256.tif`, "HTTP 500"],
		["does not answer in time", `${COGS}/slow/s2_nir_256.tif`, "no answer within"],
	])("retry a server that %s, then fail the job naming the input", async (_, href, reason) => {
		const job = await withNir(href);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/stage-failed");
		expect(job.error?.detail).toContain("input 'nir'");
		expect(job.error?.detail).toContain(reason);
		const events = await eventsOf(job.id);
		expect(events.filter((event) => event === "ingest:retrying")).toHaveLength(3);
	});

	it("are refused unless they are https:// URLs, and need exactly one of upload_id and href", async () => {
		const plain = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: {
					red: { href: "http://cogs.test/files/s2_red_256.tif" },
					nir: { href: `${COGS}/files/s2_nir_256.tif` },
				},
			}),
			422,
			"validation-failed",
		);
		expect(plain.errors?.map((error) => error.path)).toEqual(["inputs.red.href"]);
		const both = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: {
					red: { href: `${COGS}/files/s2_red_256.tif`, upload_id: "upl_000000000000000000000000" },
					nir: { href: `${COGS}/files/s2_nir_256.tif` },
				},
			}),
			422,
			"validation-failed",
		);
		expect(both.errors?.map((error) => error.path)).toEqual(["inputs.red"]);
	});

	it("count against the tenant's pixel quota once validate has read their size", async () => {
		const { key } = await createTenantKey({ quotas: { maxPixelsPerJob: 256 * 255 } });
		const response = await submitJob(
			{
				index: "ndvi",
				inputs: { red: { href: `${COGS}/files/s2_red_256.tif` }, nir: { href: `${COGS}/files/s2_nir_256.tif` } },
			},
			{ authorization: `Bearer ${key}` },
		);
		expect(response.status).toBe(202);
		const { id } = await json<{ id: string }>(response);
		const job = await waitForJob(id, { key });
		expect(job.status).toBe("failed");
		expect(job.stage).toBe("validate");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/quota-exceeded");
		expect(job.error?.detail).toContain(String(256 * 256));
	});
});
