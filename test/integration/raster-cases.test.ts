/**
 * Raster algebra for real archives, job by job over HTTP through every queue, against what
 * GDAL 3.6, numpy and pyproj computed (test/fixtures/t2/manifest-t2.json `raster_cases`):
 * masks from class and bit bands, and the other cases as their features are enabled below.
 * Each result.tif is compared pixel by pixel (NaN where GDAL has NaN) on its own grid.
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer } from "geotiff";
import { describe, expect, it } from "vitest";
import { remoteBytesRead } from "../../src/db/remote-bytes";
import type { JobStatistics } from "../../src/processes/index/statistics";
import { geotransformOf, readGeoReference } from "../../src/raster/georeference";
import largeTiled from "../fixtures/aoi/large_tiled.tif";
import byteRed from "../fixtures/layouts/byte_red.tif";
import float64Nir from "../fixtures/layouts/float64_nir.tif";
import ndviS2 from "../fixtures/ndvi_s2_256.f32";
import nir256 from "../fixtures/s2_nir_256.tif";
import red256 from "../fixtures/s2_red_256.tif";
import exprBitwiseQa from "../fixtures/t2/expr_bitwise_qa.f32";
import lsNir from "../fixtures/t2/ls_nir_30m.tif";
import lsQa from "../fixtures/t2/ls_qa_pixel_30m.tif";
import lsRed from "../fixtures/t2/ls_red_30m.tif";
import manifest from "../fixtures/t2/manifest-t2.json";
import ndmiBilinear from "../fixtures/t2/ndmi_10m_20m_bilinear.f32";
import ndmiNearest from "../fixtures/t2/ndmi_10m_20m_nearest.f32";
import ndmiOn20 from "../fixtures/t2/ndmi_on_20m_grid.f32";
import ndviAoiBbox from "../fixtures/t2/ndvi_aoi_bbox.f32";
import ndviAoiPolygon from "../fixtures/t2/ndvi_aoi_polygon.f32";
import ndviLandsatQaBits from "../fixtures/t2/ndvi_landsat_qa_bits.f32";
import ndviLandsatQaPreset from "../fixtures/t2/ndvi_landsat_qa_preset.f32";
import ndviSclClasses from "../fixtures/t2/ndvi_scl_classes.f32";
import ndviSclPreset from "../fixtures/t2/ndvi_scl_preset.f32";
import ndviWhereVegetation from "../fixtures/t2/ndvi_where_vegetation.f32";
import nir10 from "../fixtures/t2/nir_10m.tif";
import red10 from "../fixtures/t2/red_10m.tif";
import scl20 from "../fixtures/t2/scl_20m.tif";
import swir20 from "../fixtures/t2/swir16_20m.tif";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { numpyHistogram } from "../percentile";

interface RasterCase {
	request: Record<string, unknown> & { inputs: Record<string, { file: string } & Record<string, unknown>> };
	expected?: string;
	/** [height, width] */
	shape?: [number, number];
	grid?: { epsg: number; origin: [number, number]; resolution: number };
	ignore_border?: number;
	tolerance?: number;
	edge_slack?: number;
	expect?: string;
}

const files: Record<string, ArrayBuffer> = {
	"ls_red_30m.tif": lsRed,
	"ls_nir_30m.tif": lsNir,
	"ls_qa_pixel_30m.tif": lsQa,
	"red_10m.tif": red10,
	"nir_10m.tif": nir10,
	"swir16_20m.tif": swir20,
	"scl_20m.tif": scl20,
};
const expectedPixels: Record<string, ArrayBuffer> = {
	"ndvi_landsat_qa_bits.f32": ndviLandsatQaBits,
	"ndvi_landsat_qa_preset.f32": ndviLandsatQaPreset,
	"ndmi_10m_20m_bilinear.f32": ndmiBilinear,
	"ndmi_10m_20m_nearest.f32": ndmiNearest,
	"ndmi_on_20m_grid.f32": ndmiOn20,
	"ndvi_scl_preset.f32": ndviSclPreset,
	"ndvi_scl_classes.f32": ndviSclClasses,
	"ndvi_aoi_bbox.f32": ndviAoiBbox,
	"ndvi_aoi_polygon.f32": ndviAoiPolygon,
	"ndvi_where_vegetation.f32": ndviWhereVegetation,
	"expr_bitwise_qa.f32": exprBitwiseQa,
};

const cases = manifest.raster_cases as unknown as Record<string, RasterCase>;

/** The request with each `{ file }` replaced by an upload of that file. */
async function uploadedRequest(spec: RasterCase): Promise<Record<string, unknown>> {
	const uploads = new Map<string, string>();
	const inputs: Record<string, Record<string, unknown>> = {};
	for (const [name, { file, ...rest }] of Object.entries(spec.request.inputs)) {
		let id = uploads.get(file);
		if (!id) {
			const bytes = files[file];
			if (!bytes) throw new Error(`fixture ${file} is not loaded`);
			id = (await upload(bytes)).id;
			uploads.set(file, id);
		}
		inputs[name] = { upload_id: id, ...rest };
	}
	return { ...spec.request, inputs };
}

async function artifact(jobId: string, name: string): Promise<Response> {
	const response = await api(`/v1/jobs/${jobId}/artifacts/${name}`);
	expect(response.status).toBe(200);
	return response;
}

/** Runs a case's job to its end and checks result.tif and stats.json against the case. */
async function runCase(name: string): Promise<void> {
	const spec = cases[name];
	if (!spec?.expected || !spec.shape || !spec.grid) throw new Error(`case ${name} has no expected raster`);
	const response = await submitJob(await uploadedRequest(spec));
	const created = await json<{ id: string }>(response);
	expect(response.status, JSON.stringify(created)).toBe(202);
	const job = await waitForJob(created.id);
	expect(job.status, JSON.stringify(job.error)).toBe("succeeded");

	const image = await (await fromArrayBuffer(await (await artifact(job.id, "result.tif")).arrayBuffer())).getImage();
	const [height, width] = spec.shape;
	const slack = spec.edge_slack ?? 0;
	const transform = geotransformOf(await readGeoReference(image));
	if (!transform) throw new Error("result.tif is not georeferenced");
	expect(transform[1]).toBeCloseTo(spec.grid.resolution, 9);
	// Where the result's first pixel lies in the expected raster (0 unless an AOI's edge may differ).
	const columnShift = Math.round((transform[0] - spec.grid.origin[0]) / spec.grid.resolution);
	const rowShift = Math.round((spec.grid.origin[1] - transform[3]) / spec.grid.resolution);
	expect(Math.abs(columnShift)).toBeLessThanOrEqual(slack);
	expect(Math.abs(rowShift)).toBeLessThanOrEqual(slack);
	expect(Math.abs(image.getWidth() - width)).toBeLessThanOrEqual(2 * slack);
	expect(Math.abs(image.getHeight() - height)).toBeLessThanOrEqual(2 * slack);
	if (slack === 0) {
		expect(transform[0]).toBeCloseTo(spec.grid.origin[0], 6);
		expect(transform[3]).toBeCloseTo(spec.grid.origin[1], 6);
	}

	const [values] = (await image.readRasters()) as unknown as Float32Array[];
	const bytes = expectedPixels[spec.expected];
	if (!values || !bytes) throw new Error(`no pixels for ${name}`);
	const expected = new Float32Array(bytes);
	const border = spec.ignore_border ?? 0;
	const tolerance = spec.tolerance ?? 1e-6;
	let compared = 0;
	let nan = 0;
	for (let row = border; row < image.getHeight() - border; row++) {
		for (let column = border; column < image.getWidth() - border; column++) {
			const expectedRow = row + rowShift;
			const expectedColumn = column + columnShift;
			if (expectedRow < border || expectedRow >= height - border) continue;
			if (expectedColumn < border || expectedColumn >= width - border) continue;
			const want = expected[expectedRow * width + expectedColumn] as number;
			const got = values[row * image.getWidth() + column] as number;
			if (Number.isNaN(want)) {
				expect(got, `pixel ${row}, ${column}`).toBeNaN();
				nan++;
			} else {
				expect(Math.abs(got - want), `pixel ${row}, ${column}: ${got} vs ${want}`).toBeLessThanOrEqual(
					tolerance * Math.max(1, Math.abs(want)),
				);
			}
			compared++;
		}
	}
	expect(compared).toBeGreaterThan(0);

	const stats = await json<JobStatistics>(await artifact(job.id, "stats.json"));
	const valid = expected.reduce((count, value) => count + (Number.isNaN(value) ? 0 : 1), 0);
	if (border === 0 && slack === 0) {
		expect(stats.count).toBe(valid);
		expect(stats.count + stats.nodata_count + stats.masked_count).toBe(width * height);
		expect(nan).toBe(width * height - valid);
	}
}

describe("mixed resolutions", () => {
	it.each([
		["ndmi_10m_20m_bilinear", "NDMI over a 10 m NIR and a 20 m SWIR resampled bilinearly, as gdalwarp"],
		["ndmi_10m_20m_nearest", "the SWIR resampled nearest: exact"],
		["ndmi_on_20m_grid", "on the 20 m grid, the NIR averaged"],
	])("%s: %s", async (name) => {
		await runCase(name);
	});
});

describe("conditions", () => {
	it.each([
		["ndvi_where_vegetation", "where() over a class comparison of a 20 m SCL band"],
		["expr_bitwise_qa", "bitwise operators on QA_PIXEL's raw samples beside scaled bands"],
	])("%s: %s", async (name) => {
		await runCase(name);
	});

	it("refuses bitwise operators on a float band when the files are read, naming the input", async () => {
		// The same grid in two sample types: Byte red, Float64 NIR.
		const red = await upload(byteRed);
		const nir = await upload(float64Nir);
		const response = await submitJob({
			expression: "where(nir & 1 == 0, red, nan)",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
		});
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status).toBe("failed");
		expect(job.error?.errors?.[0]?.path).toBe("inputs.nir");
		expect(job.error?.errors?.[0]?.message).toContain("Float64");
	});
});

describe("areas of interest", () => {
	it.each([
		["ndvi_aoi_bbox", "a bbox in longitude/latitude, densified, cut to whole pixels"],
		["ndvi_aoi_polygon", "a polygon: NaN where a pixel's centre is outside"],
	])("%s: %s", async (name) => {
		await runCase(name);
	});

	it("answers an AOI that misses the raster with aoi-outside-raster naming aoi", async () => {
		const spec = cases.ndvi_aoi_outside as RasterCase;
		const response = await submitJob(await uploadedRequest(spec));
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status).toBe("failed");
		expect(job.error?.type).toBe("https://eo-edge.dev/problems/aoi-outside-raster");
		expect(job.error?.errors?.[0]?.path).toBe("aoi");
	});
});

describe("masks", () => {
	it.each([
		["ndvi_scl_preset", "a 20 m SCL band, resampled nearest, with the sentinel-2-scl preset"],
		["ndvi_scl_classes", "SCL classes 3, 8 and 9 (SCL's nodata still drops its pixels)"],
		["ndvi_landsat_qa_bits", "QA_PIXEL bits 1, 3 and 4, with Landsat Collection 2 scaling"],
		["ndvi_landsat_qa_preset", "the landsat-qa-pixel preset"],
	])("%s: %s", async (name) => {
		await runCase(name);
	});

	it("counts masked pixels apart from nodata, a masked nodata pixel as masked", async () => {
		const spec = cases.ndvi_landsat_qa_preset as RasterCase;
		const response = await submitJob(await uploadedRequest(spec));
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		const stats = await json<JobStatistics>(await artifact(job.id, "stats.json"));
		const qa = (
			await (await (await fromArrayBuffer(lsQa)).getImage()).readRasters()
		)[0] as unknown as ArrayLike<number>;
		// The preset drops bits 0 to 4; bit 0 (fill) is set exactly where the bands are nodata.
		let masked = 0;
		for (let i = 0; i < qa.length; i++) if (((qa[i] as number) & 0b11111) !== 0) masked++;
		expect(stats.masked_count).toBe(masked);
	});
});

describe("requests the processes refuse", () => {
	it("answers 422 for a process that does not exist, naming the field", async () => {
		const problem = await expectProblem(
			await submitJob({ process: "zonal_magic", index: "ndvi", inputs: { red: { upload_id: "upl_0" } } }),
			422,
			"validation-failed",
		);
		expect(problem.errors?.map((error) => error.path)).toContain("process");
	});

	it("answers 422 for a mask naming no input, a mask with two rules, and a bit out of range", async () => {
		const red = await upload(lsRed);
		const nir = await upload(lsNir);
		const inputs = { red: { upload_id: red.id }, nir: { upload_id: nir.id } };
		const noInput = await expectProblem(
			await submitJob({ index: "ndvi", inputs, mask: { input: "qa", bits: [1] } }),
			422,
			"validation-failed",
		);
		expect(noInput.errors).toEqual([{ path: "mask.input", message: "names no input (the inputs are red, nir)" }]);
		const twoRules = await expectProblem(
			await submitJob({ index: "ndvi", inputs, mask: { input: "red", bits: [1], classes: [3] } }),
			422,
			"validation-failed",
		);
		expect(twoRules.errors?.[0]?.message).toBe("give exactly one of classes, bits and preset");
		const bit = await expectProblem(
			await submitJob({ index: "ndvi", inputs, mask: { input: "red", bits: [32] } }),
			422,
			"validation-failed",
		);
		expect(bit.errors?.[0]?.path).toBe("mask.bits[0]");
	});

	it("takes the process by name, and the job says which process ran", async () => {
		const red = await upload(lsRed);
		const nir = await upload(lsNir);
		const response = await submitJob({
			process: "index",
			index: "ndvi",
			inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
		});
		expect(response.status).toBe(202);
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job).toMatchObject({ status: "succeeded", process: "index", index: "NDVI" });
	});
});

describe("output types", () => {
	it("stores NDVI as int16 x 0.0001 in half the bytes, GDAL's nodata and scale declared, statistics of the values", async () => {
		const red = await upload(red256);
		const nir = await upload(nir256);
		const inputs = { red: { upload_id: red.id }, nir: { upload_id: nir.id } };
		const run = async (extra: Record<string, unknown>) => {
			const response = await submitJob({ index: "ndvi", inputs, ...extra });
			const job = await waitForJob((await json<{ id: string }>(response)).id);
			expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
			const file = await (await artifact(job.id, "result.tif")).arrayBuffer();
			const stats = await json<JobStatistics>(await artifact(job.id, "stats.json"));
			return { file, stats };
		};
		const float = await run({});
		const scaled = await run({ output: { data_type: "int16", scale: 0.0001, offset: 0 } });
		expect(scaled.file.byteLength).toBeLessThan(float.file.byteLength * 0.6);

		const image = await (await fromArrayBuffer(scaled.file)).getImage();
		expect(image.getGDALNoData()).toBe(-32768);
		const metadata = (await image.getGDALMetadata(0)) as Record<string, string>;
		expect(Number(metadata.SCALE)).toBe(0.0001);
		const [samples] = (await image.readRasters()) as unknown as Int16Array[];
		const expected = new Float32Array(ndviS2);
		let checked = 0;
		expected.forEach((want, i) => {
			const sample = samples?.[i] as number;
			if (Number.isNaN(want)) expect(sample).toBe(-32768);
			else {
				expect(Math.abs(sample * 0.0001 - want)).toBeLessThanOrEqual(0.00005 + 1e-7);
				checked++;
			}
		});
		expect(checked).toBeGreaterThan(0);
		// Statistics are of the computed values, not of the rounded samples.
		expect(scaled.stats).toMatchObject({
			count: float.stats.count,
			min: float.stats.min,
			max: float.stats.max,
			mean: float.stats.mean,
		});
		expect(scaled.stats.histogram.counts.reduce((sum, count) => sum + count, 0)).toBe(scaled.stats.count);
	});

	it.each([
		["float32", {}],
		["int16 x 0.0001", { output: { data_type: "int16", scale: 0.0001, offset: 0 } }],
	])(
		"encodes %s tiles in the histogram pass as compute does, and bins the values they store",
		async (_name, output) => {
			const red = await upload(red256);
			const nir = await upload(nir256);
			const inputs = { red: { upload_id: red.id }, nir: { upload_id: nir.id } };
			const run = async (histogram: Record<string, unknown>) => {
				const response = await submitJob({ index: "ndvi", inputs, histogram, ...output });
				const job = await waitForJob((await json<{ id: string }>(response)).id);
				expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
				const file = new Uint8Array(await (await artifact(job.id, "result.tif")).arrayBuffer());
				const stats = await json<JobStatistics>(await artifact(job.id, "stats.json"));
				return { id: job.id, file, stats };
			};
			const fixed = await run({ range: [-1, 1], bins: 20 });
			const data = await run({ bins: 20 });
			// Compute encodes the tiles over fixed edges; over the job's own, the histogram pass does, from the values.
			expect(data.file).toEqual(fixed.file);
			// The values are work objects, dropped with the rest once the job has succeeded.
			expect((await env.BUCKET.list({ prefix: `jobs/${data.id}/work/` })).objects).toEqual([]);
			// The counts are numpy.histogram's of the values result.tif stores.
			const image = await (await fromArrayBuffer(data.file.buffer)).getImage();
			const [samples] = (await image.readRasters()) as unknown as ArrayLike<number>[];
			const nodata = image.getGDALNoData();
			const scale = "output" in output ? output.output.scale : 1;
			const stored = Float32Array.from(samples ?? [], (sample) => (sample === nodata ? Number.NaN : sample * scale));
			const { edges, counts } = numpyHistogram(stored, 20);
			expect(data.stats.histogram).toMatchObject({
				range_source: "data",
				edges,
				counts,
				below_range: 0,
				above_range: 0,
			});
		},
	);

	it("answers 422 for a float32 output with a scale, naming the field", async () => {
		const red = await upload(red256);
		const nir = await upload(nir256);
		const problem = await expectProblem(
			await submitJob({
				index: "ndvi",
				inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
				output: { data_type: "float32", scale: 0.5 },
			}),
			422,
			"validation-failed",
		);
		expect(problem.errors?.[0]?.path).toMatch(/^output/);
	});
});

describe("an area of interest over a large tiled input", () => {
	it("reads the few tiles under a 1 km² field, not the file", async () => {
		const file = "https://cogs.test/files/aoi/large_tiled.tif";
		// A 1 km square of UTM 33N (x 607000-608000, y 5292000-5293000) in longitude/latitude.
		const field = [
			[16.42814875842654, 47.77247656723715],
			[16.441491599339514, 47.772309739777484],
			[16.441740282826256, 47.78130442673075],
			[16.428395141947448, 47.78147130647496],
			[16.42814875842654, 47.77247656723715],
		];
		const response = await submitJob({
			index: "ndvi",
			inputs: { red: { href: file, band: 1 }, nir: { href: file, band: 2 } },
			aoi: { type: "Polygon", coordinates: [field] },
		});
		const created = await json<{ id: string }>(response);
		expect(response.status, JSON.stringify(created)).toBe(202);
		const job = await waitForJob(created.id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const image = await (await fromArrayBuffer(await (await artifact(job.id, "result.tif")).arrayBuffer())).getImage();
		// 100 x 100 pixels of 10 m, give or take the edge pixels the square's slight rotation adds.
		expect(image.getWidth()).toBeGreaterThanOrEqual(100);
		expect(image.getWidth()).toBeLessThanOrEqual(102);
		expect(image.getHeight()).toBeGreaterThanOrEqual(100);
		expect(image.getHeight()).toBeLessThanOrEqual(102);
		// The 2.4 MB file holds 36 tiles of about 66 KB; the field lies in 4 of them.
		const bytes = await remoteBytesRead(env.DB, job.id);
		expect(bytes).toBeGreaterThan(4 * 60_000);
		expect(bytes).toBeLessThan(largeTiled.byteLength / 3);
	});
});

describe("nodata per input", () => {
	it("takes an input's own nodata over the job's and the file's", async () => {
		const decode = async (bytes: ArrayBuffer) =>
			(await (await (await fromArrayBuffer(bytes)).getImage()).readRasters())[0] as unknown as ArrayLike<number>;
		const red = await decode(red256);
		const nir = await decode(nir256);
		// The NIR sample most pixels share, as this input's nodata instead of the file's 0.
		const tally = new Map<number, number>();
		for (let i = 0; i < nir.length; i++) tally.set(nir[i] as number, (tally.get(nir[i] as number) ?? 0) + 1);
		const [common] = [...tally.entries()].sort((a, b) => b[1] - a[1])[0] ?? [0];
		let nodata = 0;
		for (let i = 0; i < nir.length; i++) {
			const r = red[i] as number;
			const n = nir[i] as number;
			// The job's nodata (0) applies to red; NIR's own replaces it there; 0 + 0 is NaN anyway.
			if (r === 0 || n === common || r + n === 0) nodata++;
		}
		const redUpload = await upload(red256);
		const nirUpload = await upload(nir256);
		const response = await submitJob({
			index: "ndvi",
			nodata: 0,
			inputs: { red: { upload_id: redUpload.id }, nir: { upload_id: nirUpload.id, nodata: common } },
		});
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const stats = await json<JobStatistics>(await artifact(job.id, "stats.json"));
		expect(stats.nodata_count).toBe(nodata);
		expect(stats.count).toBe(nir.length - nodata);
	});
});

describe("a mask on another grid", () => {
	it("counts a 20 m SCL's dropped classes as masked, its nodata class 0 included, 4 output pixels each", async () => {
		const scl = (
			await (await (await fromArrayBuffer(scl20)).getImage()).readRasters()
		)[0] as unknown as ArrayLike<number>;
		const preset = new Set([0, 1, 3, 8, 9, 10]);
		let dropped = 0;
		for (let i = 0; i < scl.length; i++) if (preset.has(scl[i] as number)) dropped++;
		const spec = cases.ndvi_scl_preset as RasterCase;
		const response = await submitJob(await uploadedRequest(spec));
		const job = await waitForJob((await json<{ id: string }>(response)).id);
		expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
		const stats = await json<JobStatistics>(await artifact(job.id, "stats.json"));
		expect(stats.masked_count).toBe(4 * dropped);
	});
});
