/**
 * result.tif as a Cloud-Optimized GeoTIFF, preview.png and the percentiles of stats.json, on a
 * 1030 x 620 GDAL-written pair that the test budget cuts into six windows: structure and
 * pixels read back with geotiff.js, overviews against a NaN-aware average computed here, the
 * preview decoded with DecompressionStream, percentiles against numpy's method on the
 * expected pixels.
 */
import { fromArrayBuffer, type GeoTIFFImage } from "geotiff";
import { beforeAll, describe, expect, it } from "vitest";
import type { Job } from "../../openapi/client/src/index";
import { type ColormapName, colormapTable } from "../../src/preview/colormaps";
import { crc32 } from "../../src/preview/png";
import type { JobStatistics } from "../../src/processes/index/statistics";
import cases from "../fixtures/layouts/cases.json";
import expectedPixels from "../fixtures/layouts/overviews.f32";
import nirTif from "../fixtures/layouts/overviews_nir.tif";
import redTif from "../fixtures/layouts/overviews_red.tif";
import { api, expectProblem, json, submitJob, upload, waitForJob } from "../helpers";
import { exactPercentile } from "../percentile";
import { decodePng } from "../png";

const [HEIGHT, WIDTH] = cases.overviews.shape as [number, number];

interface Level {
	values: Float32Array;
	width: number;
	height: number;
}

/** Mean of the non-NaN pixels of each 2 x 2 block (those inside the raster), in float64, stored as float32. */
function referenceHalf({ values, width, height }: Level): Level {
	const half = { width: Math.ceil(width / 2), height: Math.ceil(height / 2) };
	const out = new Float32Array(half.width * half.height);
	for (let y = 0; y < half.height; y++) {
		for (let x = 0; x < half.width; x++) {
			const valid: number[] = [];
			for (const [dy, dx] of [
				[0, 0],
				[0, 1],
				[1, 0],
				[1, 1],
			] as const) {
				const sy = 2 * y + dy;
				const sx = 2 * x + dx;
				if (sy < height && sx < width && !Number.isNaN(values[sy * width + sx]))
					valid.push(values[sy * width + sx] as number);
			}
			out[y * half.width + x] = valid.length === 0 ? Number.NaN : valid.reduce((a, b) => a + b, 0) / valid.length;
		}
	}
	return { ...half, values: out };
}

function countMismatches(got: Float32Array, want: Float32Array): number {
	let mismatches = 0;
	for (let i = 0; i < want.length; i++) {
		const same = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Object.is(got[i], want[i]);
		if (!same) mismatches++;
	}
	return mismatches + Math.abs(got.length - want.length);
}

async function tileArray(image: GeoTIFFImage, tag: "TileOffsets" | "TileByteCounts"): Promise<number[]> {
	return Array.from((await image.fileDirectory.loadValue(tag)) ?? [], Number);
}

let job: Job;
let file: ArrayBuffer;
const levels: Level[] = [];

beforeAll(async () => {
	const red = await upload(redTif);
	const nir = await upload(nirTif);
	const response = await submitJob({
		index: "ndvi",
		inputs: { red: { upload_id: red.id }, nir: { upload_id: nir.id } },
	});
	expect(response.status).toBe(202);
	job = await waitForJob((await json<{ id: string }>(response)).id);
	expect(job.error).toBeNull();
	file = await (await api(`/v1/jobs/${job.id}/artifacts/result.tif`)).arrayBuffer();
	levels.push({ values: new Float32Array(expectedPixels), width: WIDTH, height: HEIGHT });
	levels.push(referenceHalf(levels[0] as Level));
	levels.push(referenceHalf(levels[1] as Level));
});

describe("result.tif of a job cut into several windows", () => {
	it("came from one compute invocation per window, with progress at every strip", async () => {
		const { events } = await json<{
			events: { stage: string; status: string; detail: Record<string, unknown> | null }[];
		}>(await api(`/v1/jobs/${job.id}/events`));
		const planned = events.find((event) => event.stage === "validate" && event.status === "succeeded");
		expect(planned?.detail?.strips).toBeGreaterThan(1);
		const computed = events.filter((event) => event.stage === "compute" && event.status === "succeeded");
		expect(computed).toHaveLength(planned?.detail?.strips as number);
		expect(computed.some((event) => ((event.detail?.columns as number[] | undefined)?.[0] ?? 0) > 0)).toBe(true);
	});

	it("is a COG: 512 tiles, deflate with predictor 3, overviews at 2x and 4x, IFDs first, smallest overview's tiles first", async () => {
		const tiff = await fromArrayBuffer(file);
		expect(await tiff.getImageCount()).toBe(levels.length);
		const firstTiles: number[] = [];
		for (const [index, level] of levels.entries()) {
			const image = await tiff.getImage(index);
			expect([image.getWidth(), image.getHeight()]).toEqual([level.width, level.height]);
			expect([image.getTileWidth(), image.getTileHeight()]).toEqual([512, 512]);
			expect(image.fileDirectory.getValue("Compression")).toBe(8);
			expect(await image.fileDirectory.loadValue("Predictor")).toBe(3);
			expect([image.getSampleFormat(), image.getBitsPerSample()]).toEqual([3, 32]);
			const offsets = await tileArray(image, "TileOffsets");
			const counts = await tileArray(image, "TileByteCounts");
			expect(offsets).toHaveLength(Math.ceil(level.width / 512) * Math.ceil(level.height / 512));
			for (let tile = 1; tile < offsets.length; tile++) {
				expect(offsets[tile], `level ${index} tile ${tile}`).toBe((offsets[tile - 1] ?? 0) + (counts[tile - 1] ?? 0));
			}
			firstTiles.push(offsets[0] ?? 0);
		}
		// Level 0 last in the file, the smallest overview first, and no tile before the last IFD's arrays.
		expect(firstTiles).toEqual(firstTiles.toSorted((a, b) => b - a));
		const view = new DataView(file);
		let lastIfd = view.getUint32(4, true);
		for (let next = lastIfd; next !== 0; next = view.getUint32(next + 2 + view.getUint16(next, true) * 12, true)) {
			lastIfd = next;
		}
		expect(Math.min(...firstTiles)).toBeGreaterThan(lastIfd);
		expect((await tiff.getImage(0)).getGDALNoData()).toBeNaN();
	});

	it("holds numpy's pixels at full resolution and NaN-aware 2 x 2 averages in the overviews", async () => {
		const tiff = await fromArrayBuffer(file);
		for (const [index, level] of levels.entries()) {
			const [band] = (await (await tiff.getImage(index)).readRasters()) as unknown as Float32Array[];
			expect(countMismatches(band as Float32Array, level.values), `level ${index}`).toBe(0);
		}
	});
});

describe("stats.json", () => {
	it("has percentiles within one 0.001 bin of numpy's, from the full-resolution pixels", async () => {
		const stats = await json<JobStatistics>(await api(`/v1/jobs/${job.id}/artifacts/stats.json`));
		const full = levels[0] as Level;
		expect(stats.count).toBe(full.values.filter((value) => !Number.isNaN(value)).length);
		for (const [key, percent] of [
			["p2", 2],
			["p50", 50],
			["p98", 98],
		] as const) {
			const exact = exactPercentile(full.values, percent);
			expect(
				Math.abs((stats.percentiles[key] as number) - exact),
				`${key}: ${stats.percentiles[key]} vs ${exact}`,
			).toBeLessThanOrEqual(0.001);
		}
		expect(stats.histogram.counts).toHaveLength(20);
	});
});

describe("preview.png", () => {
	/** The colour the level-1 overview's value gets, or null for transparent. */
	function expectedColour(value: number, colormap: ColormapName, [min, max]: [number, number]): number[] | null {
		if (Number.isNaN(value)) return null;
		const entry = Math.min(255, Math.max(0, Math.round(((value - min) / (max - min)) * 255)));
		return Array.from(colormapTable(colormap).subarray(entry * 3, entry * 3 + 3));
	}

	function expectPreview(
		png: { width: number; height: number; rgba: Uint8Array },
		colormap: ColormapName,
		rescale: [number, number],
	) {
		// The first level within 1024 px: 1030 x 620 is previewed from the 2x overview.
		const level = levels[1] as Level;
		expect([png.width, png.height]).toEqual([level.width, level.height]);
		let wrong = 0;
		for (let i = 0; i < level.values.length; i++) {
			const colour = expectedColour(level.values[i] as number, colormap, rescale);
			const pixel = Array.from(png.rgba.subarray(i * 4, i * 4 + 4));
			if (colour === null ? pixel[3] !== 0 : pixel.join() !== [...colour, 255].join()) wrong++;
		}
		expect(wrong).toBe(0);
	}

	it("is listed, and draws the index with its default colormap (rdylgn for NDVI) over [-1, 1], nodata transparent", async () => {
		expect(job.artifacts.map((artifact) => artifact.name)).toContain("preview.png");
		const response = await api(`/v1/jobs/${job.id}/artifacts/preview.png`);
		expect(response.headers.get("content-type")).toBe("image/png");
		expectPreview(await decodePng(new Uint8Array(await response.arrayBuffer())), "rdylgn", [-1, 1]);
		// The colormaps' ends are ColorBrewer's and matplotlib's.
		expect(Array.from(colormapTable("rdylgn").subarray(0, 3))).toEqual([0xa5, 0x00, 0x26]);
		expect(Array.from(colormapTable("viridis").subarray(255 * 3))).toEqual([0xfd, 0xe7, 0x25]);
		expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
	});

	it("is redrawn with ?colormap= and ?rescale=", async () => {
		const response = await api(`/v1/jobs/${job.id}/artifacts/preview.png?colormap=viridis&rescale=0,0.5`);
		expect(response.status).toBe(200);
		expectPreview(await decodePng(new Uint8Array(await response.arrayBuffer())), "viridis", [0, 0.5]);
		const greys = await api(`/v1/jobs/${job.id}/artifacts/preview.png?colormap=greys`);
		expectPreview(await decodePng(new Uint8Array(await greys.arrayBuffer())), "greys", [-1, 1]);
	});

	it("answers 422 naming the parameter for a bad colormap or rescale", async () => {
		const bad = async (query: string, parameter: string) => {
			const problem = await expectProblem(
				await api(`/v1/jobs/${job.id}/artifacts/preview.png?${query}`),
				422,
				"validation-failed",
			);
			expect(problem.errors?.map((error) => error.path)).toEqual([`query.${parameter}`]);
		};
		await bad("colormap=jet", "colormap");
		await bad("rescale=0.5", "rescale");
		await bad("rescale=a,b", "rescale");
		await bad("rescale=1,-1", "rescale");
		const problem = await expectProblem(
			await api(`/v1/jobs/${job.id}/artifacts/result.tif?colormap=viridis`),
			422,
			"validation-failed",
		);
		expect(problem.errors?.map((error) => error.path)).toEqual(["query.colormap"]);
	});
});
