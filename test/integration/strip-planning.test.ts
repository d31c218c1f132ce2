/**
 * Strip planning through the pipeline: a job whose inputs are full-width strips (GDAL's default
 * layout) beside tiles decodes every block of both files exactly once, in full-width windows
 * evaluated in chunks of columns, and gives numpy's NDVI.
 */
import { env } from "cloudflare:workers";
import { fromArrayBuffer, GeoTIFFImage } from "geotiff";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getJob } from "../../src/db/jobs";
import { jobPlan, type PlannedInput, windowBytes } from "../../src/pipeline/plan";
import { pipelineStages } from "../../src/pipeline/stages";
import { openRasterFile } from "../../src/raster/inputs";
import { RangedSource } from "../../src/raster/ranged-source";
import { readWindow } from "../../src/raster/read";
import { SAMPLE_ARRAYS } from "../../src/raster/samples";
import { objectKeys } from "../../src/storage/keys";
import ycbcrStrips from "../fixtures/jpeg/ycbcr_strips.tif";
import stripedRed from "../fixtures/layouts/mixed_strips_red.tif";
import expectedNdvi from "../fixtures/layouts/overviews.f32";
import tiledNir from "../fixtures/layouts/overviews_nir.tif";
import { deliver, deliverSent, insertNdviJob, recordingEnv } from "../pipeline-driver";

const TRACE_ID = "7d2c4b1a9e8f4c3d8b6a5f4e3d2c1b0a";
const WIDTH = 1030;
const HEIGHT = 620;

/** The plan's inputs as validate will describe the two files: 16-row strips and 256 x 256 tiles. */
const planned = (name: string, block: [number, number]): PlannedInput => ({
	name,
	upload_id: name,
	object_key: null,
	href: null,
	bytes: 0,
	band: 1,
	data_type: "UInt16",
	nodata: 0,
	bytes_per_pixel: 2,
	block_width: block[0],
	block_height: block[1],
});
const inputs = [planned("red", [WIDTH, 16]), planned("nir", [256, 256])];

afterEach(() => {
	vi.restoreAllMocks();
});

/**
 * Counts each block's decodes: blocks the window reader decodes from a view of the stored
 * bytes, by file and offset; blocks read through geotiff.js, by file layout, block and sample.
 */
function countDecodes(): Map<string, number> {
	const counts = new Map<string, number>();
	const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1);
	const originalBlock = GeoTIFFImage.prototype.getTileOrStrip;
	vi.spyOn(GeoTIFFImage.prototype, "getTileOrStrip").mockImplementation(function (
		this: GeoTIFFImage,
		x,
		y,
		sample,
		...rest
	) {
		count(`${this.isTiled ? "tiles" : "strips"} ${x},${y},${sample}`);
		return originalBlock.call(this, x, y, sample, ...rest);
	});
	const originalBytes = RangedSource.prototype.bytes;
	vi.spyOn(RangedSource.prototype, "bytes").mockImplementation(function (this: RangedSource, slice) {
		count(`file of ${this.fileSize} bytes, block at ${slice.offset}`);
		return originalBytes.call(this, slice);
	});
	return counts;
}

describe("strip planning", () => {
	it("decodes each strip and tile once per job: full-width windows evaluated in chunks", async () => {
		// Room for a full-width window of 512 rows evaluated 512 columns at a time, not evaluated whole.
		const budget = windowBytes(512, WIDTH, { width: WIDTH, height: HEIGHT }, inputs, 512);
		expect(windowBytes(512, WIDTH, { width: WIDTH, height: HEIGHT }, inputs)).toBeGreaterThan(budget);
		const { testEnv, sent } = recordingEnv({ STRIP_BUDGET_BYTES: budget, WINDOWS_IN_FLIGHT_PER_JOB: 16 });
		const jobId = (await insertNdviJob(TRACE_ID, { red: stripedRed, nir: tiledNir })).id;
		const message = { job_id: jobId, trace_id: TRACE_ID };
		await deliver(pipelineStages.ingest.queue, message, testEnv);
		await deliver(pipelineStages.validate.queue, message, testEnv);
		const plan = jobPlan((await getJob(env.DB, jobId)) ?? { plan: null });
		expect(plan).toMatchObject({ rows_per_strip: 512, cols_per_strip: WIDTH, chunk_columns: 512 });
		expect(plan?.strips).toHaveLength(2);

		const decodes = countDecodes();
		for (const body of sent.compute) await deliver(pipelineStages.compute.queue, body, testEnv);
		vi.restoreAllMocks();
		// 39 strips of 16 rows and 5 x 3 tiles, each decoded by exactly one window.
		expect(decodes.size).toBe(Math.ceil(HEIGHT / 16) + Math.ceil(WIDTH / 256) * Math.ceil(HEIGHT / 256));
		expect(new Set(decodes.values())).toEqual(new Set([1]));

		await deliverSent("histogram", sent, testEnv);
		expect(sent.store).toEqual([message]);
		await deliverSent("store", sent, testEnv);
		await deliverSent("publish", sent, testEnv);
		expect((await getJob(env.DB, jobId))?.status).toBe("succeeded");
		const result = await env.BUCKET.get(objectKeys.artifact(jobId, "result.tif"));
		const image = await (await fromArrayBuffer(await (result as R2ObjectBody).arrayBuffer())).getImage();
		const [pixels = new Float32Array()] = (await image.readRasters()) as unknown as Float32Array[];
		const expected = new Float32Array(expectedNdvi);
		const mismatches: string[] = [];
		expected.forEach((want, i) => {
			const got = pixels[i] ?? Number.NaN;
			const same = Number.isNaN(want) ? Number.isNaN(got) : Object.is(got, want);
			if (!same && mismatches.length < 3) mismatches.push(`pixel ${i}: ${got}, numpy ${want}`);
		});
		expect(mismatches).toEqual([]);
	});
});

describe("a decoded window", () => {
	it.each([
		["16-row Deflate strips (sliced blocks)", stripedRed, [1]],
		["YCbCr JPEG strips (geotiff.js's readRasters)", ycbcrStrips, [1, 2, 3]],
	] as const)("of %s copies any of its columns as a read of those columns alone", async (_name, tiff, bands) => {
		const key = `test/strip-planning/${crypto.randomUUID()}.tif`;
		await env.BUCKET.put(key, tiff);
		const file = { objectKey: key, href: null, bytes: tiff.byteLength, allowedHosts: null };
		const { image } = await openRasterFile(env, file);
		const rows = { rowStart: 20, rowEnd: Math.min(image.getHeight(), 100) };
		const window = { ...rows, colStart: 0, colEnd: image.getWidth() };
		const decoded = await readWindow(image, bands, window);
		for (const [colStart, colEnd] of [
			[0, 64],
			[64, 150],
			[150, image.getWidth()],
		] as const) {
			const alone = await readWindow((await openRasterFile(env, file)).image, bands, { ...rows, colStart, colEnd });
			const view = decoded.columns(colStart, colEnd);
			for (const position of bands.keys()) {
				const type = decoded.sampleTypes[position] ?? "uint8";
				const pixels = (colEnd - colStart) * (rows.rowEnd - rows.rowStart);
				const fromView = new SAMPLE_ARRAYS[type](pixels);
				const fromRead = new SAMPLE_ARRAYS[type](pixels);
				view.copyBand(position, fromView);
				alone.copyBand(position, fromRead);
				expect(fromView).toEqual(fromRead);
			}
		}
	});
});
