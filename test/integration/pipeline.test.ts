/**
 * Whole jobs through all five queues inside workerd, on GDAL-written fixtures, compared pixel
 * by pixel and statistic by statistic with the values GDAL and numpy computed for them.
 */
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { createJob, getJobArtifact, type Job, listJobEvents } from "../../openapi/client/src/index";
import type { JobStatistics } from "../../src/pipeline/publish/statistics";
import { geotransformOf, readGeoReference, sameCrs } from "../../src/raster/georeference";
import landsatFloat32 from "../fixtures/landsat_rn_float32.tif";
import type { ManifestCase } from "../fixtures/manifest";
import manifest from "../fixtures/manifest.json";
import ndviFloat32 from "../fixtures/ndvi_float32.f32";
import ndviMultiband from "../fixtures/ndvi_multiband.f32";
import ndviS2 from "../fixtures/ndvi_s2_256.f32";
import ndwiMultiband from "../fixtures/ndwi_multiband.f32";
import ndwiS2 from "../fixtures/ndwi_s2_256.f32";
import bgrnStriped from "../fixtures/s2_bgrn_300x200_lzw_striped.tif";
import green256 from "../fixtures/s2_green_256.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import { api, expectProblem, partner, upload, waitForJob } from "../helpers";
import { decodePng } from "../png";

const files: Record<string, ArrayBuffer> = {
	"s2_red_256.tif": red256,
	"s2_nir_256.tif": nir256,
	"s2_green_256.tif": green256,
	"s2_bgrn_300x200_lzw_striped.tif": bgrnStriped,
	"landsat_rn_float32.tif": landsatFloat32,
};
const expectedPixels: Record<string, ArrayBuffer> = {
	"ndvi_s2_256.f32": ndviS2,
	"ndwi_s2_256.f32": ndwiS2,
	"ndvi_multiband.f32": ndviMultiband,
	"ndwi_multiband.f32": ndwiMultiband,
	"ndvi_float32.f32": ndviFloat32,
};

const cases = ["ndvi_s2_256", "ndwi_s2_256", "ndvi_multiband", "ndwi_multiband", "ndvi_float32"] as const;
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

function relativeClose(actual: number | null, expected: number, tolerance = 1e-6): void {
	expect(actual).not.toBeNull();
	expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
}

async function runCase(name: (typeof cases)[number]) {
	const spec = (manifest.cases as Record<string, unknown>)[name] as ManifestCase;
	const uploads = new Map<string, string>();
	for (const input of Object.values(spec.inputs)) {
		if (!uploads.has(input.file)) {
			const bytes = files[input.file];
			if (!bytes) throw new Error(`fixture ${input.file} is not loaded`);
			uploads.set(input.file, (await upload(bytes)).id);
		}
	}
	const inputs = Object.fromEntries(
		Object.entries(spec.inputs).map(([band, input]) => [
			band,
			{ upload_id: uploads.get(input.file) as string, band: input.band ?? 1 },
		]),
	);
	const {
		data: created,
		error,
		response,
	} = await createJob({
		client: partner,
		body: { index: spec.index, inputs },
		headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` },
	});
	expect(response?.status, JSON.stringify(error)).toBe(202);
	const { id } = created as Job;
	expect(response?.headers.get("location")).toBe(`/v1/jobs/${id}`);
	const job = await waitForJob(id);
	return { spec, job, uploads };
}

describe.each(cases)("job %s through all five queues", (name) => {
	it("matches GDAL/numpy pixel for pixel, keeps the grid, and reports exact statistics", async () => {
		const { spec, job } = await runCase(name);
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
		expect(job.progress).toBe(1);
		expect(job.artifacts.map((artifact) => artifact.name)).toEqual(["preview.png", "result.tif", "stats.json"]);

		const result = await getJobArtifact({
			client: partner,
			path: { id: job.id, name: "result.tif" },
			parseAs: "arrayBuffer",
		});
		expect(result.response?.status).toBe(200);
		const tiff = await fromArrayBuffer(result.data as ArrayBuffer);
		const image = await tiff.getImage();
		const [height, width] = spec.shape;
		expect([image.getWidth(), image.getHeight()]).toEqual([width, height]);
		expect(image.getSampleFormat()).toBe(3);
		expect(image.getBitsPerSample()).toBe(32);
		expect(String(image.getFileDirectory().getValue("GDAL_NODATA")).replace(/\0/g, "")).toBe("nan");

		const [pixels] = (await image.readRasters()) as unknown as Float32Array[];
		const expected = new Float32Array(expectedPixels[spec.expected] as ArrayBuffer);
		expect(pixels?.length).toBe(expected.length);
		let mismatches = 0;
		for (let i = 0; i < expected.length; i++) {
			const want = expected[i] as number;
			const got = (pixels as Float32Array)[i] as number;
			// The kernel computes numpy's float32 arithmetic, so values match bit for bit.
			const same = Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want);
			if (!same) mismatches++;
		}
		expect(mismatches).toBe(0);

		// The preview of a raster within 1024 px is the full resolution: nodata transparent, the rest opaque.
		const preview = await decodePng(
			new Uint8Array(await (await api(`/v1/jobs/${job.id}/artifacts/preview.png`)).arrayBuffer()),
		);
		expect([preview.height, preview.width]).toEqual(spec.shape);
		let alphaMismatches = 0;
		expected.forEach((value, i) => {
			if (preview.rgba[i * 4 + 3] !== (Number.isNaN(value) ? 0 : 255)) alphaMismatches++;
		});
		expect(alphaMismatches).toBe(0);

		const firstInput = Object.values(spec.inputs)[0];
		const source = await (await fromArrayBuffer(files[firstInput?.file ?? ""] as ArrayBuffer)).getImage();
		const sourceGeo = await readGeoReference(source);
		const resultGeo = await readGeoReference(image);
		expect(geotransformOf(resultGeo)).toEqual(geotransformOf(sourceGeo));
		expect(sameCrs(resultGeo, sourceGeo)).toBe(true);

		const statsArtifact = await getJobArtifact({ client: partner, path: { id: job.id, name: "stats.json" } });
		expect(statsArtifact.response?.headers.get("content-type")).toMatch(/^application\/json/);
		const stats = statsArtifact.data as unknown as JobStatistics;
		const want = spec.stats;
		expect(stats.index).toBe(spec.index);
		expect(stats.count).toBe(want.count);
		expect(stats.nodata_count).toBe(want.nodata_count);
		relativeClose(stats.min, want.min);
		relativeClose(stats.max, want.max);
		relativeClose(stats.mean, want.mean);
		relativeClose(stats.std, want.std);
		expect(stats.histogram.edges).toEqual(want["histogram_range_-1_1_20_bins"].edges);
		expect(stats.histogram.counts).toEqual(want["histogram_range_-1_1_20_bins"].counts);
	});
});

describe("job timeline", () => {
	it("records every stage under the trace of the request that created the job, one compute event per strip", async () => {
		const { job } = await runCase("ndvi_s2_256");
		const { data } = await listJobEvents({ client: partner, path: { id: job.id } });
		const events = data?.events ?? [];
		for (const stage of ["ingest", "validate", "compute", "store", "publish"]) {
			expect(events.some((event) => event.stage === stage && event.status === "started")).toBe(true);
			expect(events.some((event) => event.stage === stage && event.status === "succeeded")).toBe(true);
		}
		expect(events.every((event) => event.trace_id === TRACE_ID)).toBe(true);
		const computeSuccesses = events.filter((event) => event.stage === "compute" && event.status === "succeeded");
		const planned = events.find((event) => event.stage === "validate" && event.status === "succeeded");
		expect(computeSuccesses.length).toBe(planned?.detail?.strips);
		expect(
			events.filter((event) => event.status === "succeeded").every((event) => (event.duration_ms ?? -1) >= 0),
		).toBe(true);
	});
});

describe("artifact download", () => {
	it("serves byte ranges of result.tif for in-place readers such as GDAL's /vsicurl/", async () => {
		const { job } = await runCase("ndvi_s2_256");
		const whole = new Uint8Array(await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer());
		const partial = await api(`/v1/jobs/${job.id}/artifacts/result.tif`, { headers: { range: "bytes=8-23" } });
		expect(partial.status).toBe(206);
		expect(partial.headers.get("content-range")).toBe(`bytes 8-23/${whole.length}`);
		expect(partial.headers.get("content-length")).toBe("16");
		expect(new Uint8Array(await partial.arrayBuffer())).toEqual(whole.subarray(8, 24));
		expect(job.artifacts.find((artifact) => artifact.name === "result.tif")?.bytes).toBe(whole.length);

		const ranged = async (range: string) => api(`/v1/jobs/${job.id}/artifacts/result.tif`, { headers: { range } });
		const suffix = await ranged("bytes=-10");
		expect(suffix.status).toBe(206);
		expect(suffix.headers.get("content-range")).toBe(`bytes ${whole.length - 10}-${whole.length - 1}/${whole.length}`);
		expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(whole.subarray(whole.length - 10));
		const openEnded = await ranged(`bytes=${whole.length - 4}-`);
		expect(openEnded.status).toBe(206);
		expect(new Uint8Array(await openEnded.arrayBuffer())).toEqual(whole.subarray(whole.length - 4));

		const pastEnd = await expectProblem(await ranged(`bytes=${whole.length}-`), 416, "range-not-satisfiable");
		expect(pastEnd.detail).toContain(String(whole.length));
		expect((await ranged(`bytes=${whole.length + 10}-`)).headers.get("content-range")).toBe(`bytes */${whole.length}`);

		// Several ranges are allowed to be answered with the whole file.
		const several = await ranged("bytes=0-1,4-5");
		expect(several.status).toBe(200);
		expect((await several.arrayBuffer()).byteLength).toBe(whole.length);
	});
});
