/**
 * Whole jobs through all five queues inside workerd, on GDAL-written fixtures, compared pixel
 * by pixel and statistic by statistic with the values GDAL and numpy computed for them.
 */
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { type CreateJob, createJob, getJobArtifact, type Job, listJobEvents } from "../../openapi/client/src/index";
import { findIndex } from "../../src/indices/registry";
import type { JobStatistics } from "../../src/processes/index/statistics";
import { geotransformOf, readGeoReference, sameCrs } from "../../src/raster/georeference";
import eviL2a from "../fixtures/evi_s2_l2a.f32";
import landsatFloat32 from "../fixtures/landsat_rn_float32.tif";
import type { ManifestCase } from "../fixtures/manifest";
import manifest from "../fixtures/manifest.json";
import nbrL2a from "../fixtures/nbr_s2_l2a.f32";
import ndmiL2a from "../fixtures/ndmi_s2_l2a.f32";
import ndviFloat32 from "../fixtures/ndvi_float32.f32";
import ndviMultiband from "../fixtures/ndvi_multiband.f32";
import ndviS2 from "../fixtures/ndvi_s2_256.f32";
import ndwiMultiband from "../fixtures/ndwi_multiband.f32";
import ndwiS2 from "../fixtures/ndwi_s2_256.f32";
import bgrnStriped from "../fixtures/s2_bgrn_300x200_lzw_striped.tif";
import green256 from "../fixtures/s2_green_256.tif";
import l2a6Band from "../fixtures/s2_l2a_6band_pb04.tif";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import saviL2a from "../fixtures/savi_s2_l2a.f32";
import { api, expectProblem, partner, upload, waitForJob } from "../helpers";
import { exactPercentile, numpyHistogram, percentileNeighbours } from "../percentile";
import { decodePng } from "../png";

const files: Record<string, ArrayBuffer> = {
	"s2_red_256.tif": red256,
	"s2_nir_256.tif": nir256,
	"s2_green_256.tif": green256,
	"s2_bgrn_300x200_lzw_striped.tif": bgrnStriped,
	"landsat_rn_float32.tif": landsatFloat32,
	"s2_l2a_6band_pb04.tif": l2a6Band,
};
const expectedPixels: Record<string, ArrayBuffer> = {
	"ndvi_s2_256.f32": ndviS2,
	"ndwi_s2_256.f32": ndwiS2,
	"ndvi_multiband.f32": ndviMultiband,
	"ndwi_multiband.f32": ndwiMultiband,
	"ndvi_float32.f32": ndviFloat32,
	"evi_s2_l2a.f32": eviL2a,
	"savi_s2_l2a.f32": saviL2a,
	"ndmi_s2_l2a.f32": ndmiL2a,
	"nbr_s2_l2a.f32": nbrL2a,
};

const cases = [
	"ndvi_s2_256",
	"ndwi_s2_256",
	"ndvi_multiband",
	"ndwi_multiband",
	"ndvi_float32",
	"evi_s2_l2a",
	"savi_s2_l2a",
	"ndmi_s2_l2a",
	"nbr_s2_l2a",
] as const;
type CaseName = (typeof cases)[number];

/**
 * Constants a case was computed with where they differ from the catalog's defaults: the
 * manifest's SAVI note says L = 0.5, while the catalog's L defaults to 1 (EVI's value).
 */
const caseConstants: Partial<Record<CaseName, Record<string, number>>> = { savi_s2_l2a: { L: 0.5 } };
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";

function relativeClose(actual: number | null, expected: number, tolerance: number): void {
	expect(actual).not.toBeNull();
	expect(Math.abs((actual as number) - expected)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected)));
}

function manifestCase(name: CaseName): ManifestCase {
	return (manifest.cases as Record<string, unknown>)[name] as ManifestCase;
}

/** Uploads a case's files and builds its inputs, with the scale and offset it gives. */
async function caseInputs(spec: ManifestCase): Promise<NonNullable<CreateJob["inputs"]>> {
	const uploads = new Map<string, string>();
	for (const input of Object.values(spec.inputs)) {
		if (!uploads.has(input.file)) {
			const bytes = files[input.file];
			if (!bytes) throw new Error(`fixture ${input.file} is not loaded`);
			uploads.set(input.file, (await upload(bytes)).id);
		}
	}
	return Object.fromEntries(
		Object.entries(spec.inputs).map(([band, input]) => [
			band,
			{
				upload_id: uploads.get(input.file) as string,
				band: input.band ?? 1,
				...(input.scale === undefined ? {} : { scale: input.scale, offset: input.offset ?? 0 }),
			},
		]),
	);
}

async function runJob(body: CreateJob): Promise<Job> {
	const {
		data: created,
		error,
		response,
	} = await createJob({ client: partner, body, headers: { traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01` } });
	expect(response?.status, JSON.stringify(error)).toBe(202);
	const { id } = created as Job;
	expect(response?.headers.get("location")).toBe(`/v1/jobs/${id}`);
	return waitForJob(id);
}

async function runCase(name: CaseName) {
	const spec = manifestCase(name);
	const constants = caseConstants[name];
	// The manifest bins normalized differences over [-1, 1]: those jobs ask for the same edges.
	const histogram = spec.stats["histogram_range_-1_1_20_bins"]
		? { range: [-1, 1] as [number, number], bins: 20 }
		: undefined;
	const job = await runJob({
		index: spec.index,
		inputs: await caseInputs(spec),
		...(constants ? { constants } : {}),
		...(histogram ? { histogram } : {}),
	});
	return { spec, job };
}

/** The result's pixels against the manifest's: bit for bit, or within the case's tolerance. */
function pixelMismatches(pixels: Float32Array, spec: ManifestCase): number {
	const expected = new Float32Array(expectedPixels[spec.expected] as ArrayBuffer);
	expect(pixels.length).toBe(expected.length);
	let mismatches = 0;
	for (let i = 0; i < expected.length; i++) {
		const want = expected[i] as number;
		const got = pixels[i] as number;
		const same = Number.isNaN(want)
			? Number.isNaN(got)
			: spec.tolerance === undefined
				? Object.is(got, want)
				: Math.abs(got - want) <= spec.tolerance * Math.abs(want);
		if (!same) mismatches++;
	}
	return mismatches;
}

async function resultPixels(jobId: string) {
	const result = await getJobArtifact({
		client: partner,
		path: { id: jobId, name: "result.tif" },
		parseAs: "arrayBuffer",
	});
	expect(result.response?.status).toBe(200);
	// The client types an artifact by its JSON schema (stats.json's); parseAs says it is bytes here.
	const image = await (await fromArrayBuffer(result.data as unknown as ArrayBuffer)).getImage();
	const [pixels] = (await image.readRasters()) as unknown as Float32Array[];
	return { image, pixels: pixels as Float32Array };
}

async function statistics(jobId: string): Promise<JobStatistics> {
	const artifact = await getJobArtifact({ client: partner, path: { id: jobId, name: "stats.json" } });
	expect(artifact.response?.headers.get("content-type")).toMatch(/^application\/json/);
	return artifact.data as JobStatistics;
}

function expectStatistics(stats: JobStatistics, spec: ManifestCase): void {
	const want = spec.stats;
	const tolerance = spec.tolerance ?? 1e-6;
	expect(stats.count).toBe(want.count);
	expect(stats.nodata_count).toBe(want.nodata_count);
	relativeClose(stats.min, want.min, tolerance);
	relativeClose(stats.max, want.max, tolerance);
	relativeClose(stats.mean, want.mean, tolerance);
	relativeClose(stats.std, want.std, tolerance);
	const expected = new Float32Array(expectedPixels[spec.expected] as ArrayBuffer);
	// The request fixed the normalized differences' edges to the manifest's; others span the values.
	const fixed = stats.histogram.range_source === "request" ? want["histogram_range_-1_1_20_bins"] : undefined;
	const histogram = fixed ?? numpyHistogram(expected, 20);
	if (spec.tolerance === undefined) {
		expect(stats.histogram.edges).toEqual(histogram.edges);
		expect(stats.histogram.counts).toEqual(histogram.counts);
	} else {
		// Edges over the job's own min and max move with them, within the tolerance.
		stats.histogram.edges.forEach((edge, i) => {
			relativeClose(edge, histogram.edges[i] as number, spec.tolerance as number);
		});
		// A pixel within the tolerance of a bin edge may land on either side of it.
		const relative = spec.tolerance;
		const nearEdge = expected.filter(
			(v) => Number.isFinite(v) && histogram.edges.some((edge) => Math.abs(v - edge) <= relative * Math.abs(v)),
		).length;
		const moved = stats.histogram.counts.reduce(
			(sum, count, bin) => sum + Math.abs(count - (histogram.counts[bin] ?? 0)),
			0,
		);
		expect(moved / 2).toBeLessThanOrEqual(nearEdge);
	}
	// Percentiles within the sketch's stated relative error of numpy's (and the pixels' tolerance).
	for (const [key, percent] of [
		["p2", 2],
		["p50", 50],
		["p98", 98],
	] as const) {
		const exact = exactPercentile(expected, percent);
		const magnitude = Math.max(...percentileNeighbours(expected, percent).map(Math.abs));
		const bound = (stats.percentile_relative_error + tolerance) * magnitude + 1e-12;
		expect(Math.abs((stats.percentiles[key] as number) - exact), key).toBeLessThanOrEqual(bound);
	}
	// Every valid pixel is counted once, in a bin or outside the range.
	const binned = stats.histogram.counts.reduce((sum, count) => sum + count, 0);
	expect(binned + stats.histogram.below_range + stats.histogram.above_range).toBe(want.count);
}

describe.each(cases)("job %s through all five queues", (name) => {
	it("matches GDAL/numpy pixel for pixel, keeps the grid, and reports exact statistics", async () => {
		const { spec, job } = await runCase(name);
		expect(job.error).toBeNull();
		expect(job.status).toBe("succeeded");
		expect(job.progress).toBe(1);
		expect(job.artifacts.map((artifact) => artifact.name)).toEqual([
			"item.json",
			"preview.png",
			"result.tif",
			"stats.json",
		]);

		const { image, pixels } = await resultPixels(job.id);
		const [height, width] = spec.shape;
		expect([image.getWidth(), image.getHeight()]).toEqual([width, height]);
		expect(image.getSampleFormat()).toBe(3);
		expect(image.getBitsPerSample()).toBe(32);
		expect(String(image.getFileDirectory().getValue("GDAL_NODATA")).replace(/\0/g, "")).toBe("nan");

		// The evaluator computes numpy's float32 arithmetic, so normalized differences of unscaled
		// inputs match bit for bit; scaled inputs are converted in float32, numpy's in float64.
		expect(pixelMismatches(pixels, spec)).toBe(0);

		// The preview of a raster within 1024 px is the full resolution: nodata transparent, the rest opaque.
		const preview = await decodePng(
			new Uint8Array(await (await api(`/v1/jobs/${job.id}/artifacts/preview.png`)).arrayBuffer()),
		);
		expect([preview.height, preview.width]).toEqual(spec.shape);
		let alphaMismatches = 0;
		pixels.forEach((value, i) => {
			if (preview.rgba[i * 4 + 3] !== (Number.isNaN(value) ? 0 : 255)) alphaMismatches++;
		});
		expect(alphaMismatches).toBe(0);

		const firstInput = Object.values(spec.inputs)[0];
		const source = await (await fromArrayBuffer(files[firstInput?.file ?? ""] as ArrayBuffer)).getImage();
		const sourceGeo = await readGeoReference(source);
		const resultGeo = await readGeoReference(image);
		expect(geotransformOf(resultGeo)).toEqual(geotransformOf(sourceGeo));
		expect(sameCrs(resultGeo, sourceGeo)).toBe(true);

		const stats = await statistics(job.id);
		const index = findIndex(spec.index);
		expect(stats.index).toBe(index?.id);
		expect(stats.expression).toBe(index?.formula);
		expectStatistics(stats, spec);
		// What was applied is recorded in the job and in stats.json.
		const scaling = Object.fromEntries(
			Object.entries(spec.inputs).map(([name, input]) => [
				name,
				{ scale: input.scale ?? 1, offset: input.offset ?? 0 },
			]),
		);
		expect(stats.inputs).toEqual(scaling);
		expect(job.index).toBe(index?.id);
		expect(job.constants).toEqual(stats.constants);
		for (const [name, applied] of Object.entries(scaling)) expect(job.inputs[name]).toMatchObject(applied);
	});
});

describe("statistics of values outside any guessed range", () => {
	it("EVI over raw counts: percentiles and histogram hold, and a warning names the missing scale", async () => {
		const spec = manifestCase("evi_s2_l2a");
		const inputs = Object.fromEntries(
			Object.entries(await caseInputs(spec)).map(([name, { scale: _, offset: __, ...input }]) => [name, input]),
		);
		const job = await runJob({ index: "EVI", inputs, histogram: { bins: 50 } });
		expect(job.status).toBe("succeeded");
		const { pixels } = await resultPixels(job.id);
		const stats = await statistics(job.id);
		// Every value is in a bin: the edges span the job's own values, as numpy.histogram's do.
		expect(stats.histogram).toMatchObject({ range_source: "data", below_range: 0, above_range: 0 });
		const { edges, counts } = numpyHistogram(pixels, 50);
		expect(stats.histogram.edges).toEqual(edges);
		expect(stats.histogram.counts).toEqual(counts);
		for (const [key, percent] of [
			["p2", 2],
			["p50", 50],
			["p98", 98],
		] as const) {
			const magnitude = Math.max(...percentileNeighbours(pixels, percent).map(Math.abs));
			const error = Math.abs((stats.percentiles[key] as number) - exactPercentile(pixels, percent));
			expect(error, key).toBeLessThanOrEqual(stats.percentile_relative_error * magnitude);
		}
		expect(stats.percentiles.p98).toBeLessThan(stats.max as number);
		// Each raw input is named, in stats.json and in the job.
		const warned = stats.warnings.map((warning) => warning.input).sort();
		expect(warned).toEqual(["blue", "nir", "red"]);
		for (const warning of stats.warnings) {
			expect(warning.code).toBe("inputs-not-reflectance");
			expect(warning.message).toMatch(/EVI adds .*L = 1.*inputs\.(blue|nir|red)\.scale/);
		}
		const finished = await waitForJob(job.id);
		expect(finished.warnings).toEqual(stats.warnings);
	});

	it("the same EVI with scale and offset carries no warning", async () => {
		const job = await runJob({ index: "EVI", inputs: await caseInputs(manifestCase("evi_s2_l2a")) });
		expect(job.status).toBe("succeeded");
		expect(job.warnings).toEqual([]);
		expect((await statistics(job.id)).warnings).toEqual([]);
	});
});

describe("custom expressions", () => {
	it("compile to the same program as the catalog: NDVI written out matches numpy bit for bit", async () => {
		const spec = manifestCase("ndvi_s2_256");
		const job = await runJob({ expression: "(nir - red) / (nir + red)", inputs: await caseInputs(spec) });
		expect(job.status).toBe("succeeded");
		expect(job.index).toBe("expression");
		expect(job.expression).toBe("(nir - red) / (nir + red)");
		const { pixels } = await resultPixels(job.id);
		expect(pixelMismatches(pixels, spec)).toBe(0);
		const stats = await statistics(job.id);
		expect(stats.index).toBe("expression");
		expectStatistics(stats, spec);
	});

	it("take named constants and scaled inputs: SAVI written out matches numpy", async () => {
		const spec = manifestCase("savi_s2_l2a");
		const job = await runJob({
			expression: "(1 + L) * (nir - red) / (nir + red + L)",
			constants: { L: 0.5 },
			inputs: await caseInputs(spec),
		});
		expect(job.status).toBe("succeeded");
		expect(job.constants).toEqual({ L: 0.5 });
		const { pixels } = await resultPixels(job.id);
		expect(pixelMismatches(pixels, spec)).toBe(0);
		const stats = await statistics(job.id);
		expectStatistics(stats, spec);
		expect(stats.constants).toEqual({ L: 0.5 });
	});
});

describe("a result without values", () => {
	it("succeeds with null statistics and a warning that no pixel has a value", async () => {
		const spec = manifestCase("ndvi_s2_256");
		const job = await runJob({ expression: "(nir - nir) / (red - red)", inputs: await caseInputs(spec) });
		expect(job.status).toBe("succeeded");
		const stats = await statistics(job.id);
		expect(stats).toMatchObject({ count: 0, mean: null, percentiles: { p2: null, p50: null, p98: null } });
		expect(stats.warnings).toEqual([
			{ code: "no-valid-pixels", message: expect.stringMatching(/^No pixel has a value: \d+ are nodata/) },
		]);
		expect((await waitForJob(job.id)).warnings).toEqual(stats.warnings);
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
