import { describe, expect, it } from "vitest";
import { type PlannedInput, planStrips, windowBytes } from "../../src/pipeline/plan";
import { RESULT_PART_BYTES, storeWorkingSetBytes, widestStorableWidth } from "../../src/pipeline/store/handler";
import { overviewWorkingSetBytes } from "../../src/pipeline/store/overviews";
import { COG_TILE_SIZE as OUTPUT_TILE } from "../../src/raster/cog-writer";

const MiB = 1024 * 1024;

const input = (name: string, uploadId: string, bytesPerPixel: number, block: [number, number]): PlannedInput => ({
	name,
	upload_id: uploadId,
	object_key: `uploads/${uploadId}.tif`,
	href: null,
	bytes: 1,
	band: 1,
	data_type: "UInt16",
	nodata: null,
	bytes_per_pixel: bytesPerPixel,
	block_width: block[0],
	block_height: block[1],
});

/** Every pixel in exactly one window. */
function expectCover(width: number, height: number, strips: ReturnType<typeof planStrips>["strips"]): void {
	let pixels = 0;
	for (const strip of strips) pixels += (strip.rowEnd - strip.rowStart) * (strip.colEnd - strip.colStart);
	expect(pixels).toBe(width * height);
	const starts = new Set(strips.map((strip) => `${strip.rowStart},${strip.colStart}`));
	expect(starts.size).toBe(strips.length);
	expect(strips.map((strip) => strip.index)).toEqual(strips.map((_, i) => i));
}

describe("strip plan", () => {
	it("counts each file's blocks once, however many of its bands are inputs", () => {
		const raster = { width: 4096, height: 4096 };
		const twoFiles = windowBytes(512, 512, raster, [
			input("red", "a", 2, [512, 512]),
			input("nir", "b", 2, [512, 512]),
		]);
		const oneFile = windowBytes(512, 512, raster, [input("red", "a", 4, [512, 512]), input("nir", "a", 4, [512, 512])]);
		// The same decoded bytes either way: two 2-byte files or one 4-byte file read once.
		expect(oneFile).toBe(twoFiles - 2 * MiB);
	});

	it("cuts full-width strips aligned to the blocks and the output tiles, under the budget", () => {
		const inputs = [input("red", "a", 2, [256, 256]), input("nir", "b", 2, [256, 256])];
		const { rowsPerStrip, colsPerStrip, strips } = planStrips(2000, 3000, inputs, 64 * MiB);
		expect(colsPerStrip).toBe(2000);
		expect(rowsPerStrip % OUTPUT_TILE).toBe(0);
		expect(strips.length).toBeGreaterThan(1);
		expectCover(2000, 3000, strips);
		for (const strip of strips) {
			expect(strip.rowStart % OUTPUT_TILE).toBe(0);
			expect(
				windowBytes(strip.rowEnd - strip.rowStart, 2000, { width: 2000, height: 3000 }, inputs),
			).toBeLessThanOrEqual(64 * MiB);
		}
	});

	it("cuts a Sentinel-2 scene of 1024-pixel tiles into row x column windows, none holding a whole band", () => {
		const inputs = [input("red", "a", 2, [1024, 1024]), input("nir", "b", 2, [1024, 1024])];
		const raster = { width: 10980, height: 10980 };
		// One block row across the scene is already over budget.
		expect(windowBytes(1024, 10980, raster, inputs)).toBeGreaterThan(64 * MiB);
		const { rowsPerStrip, colsPerStrip, strips } = planStrips(10980, 10980, inputs, 64 * MiB);
		expect(rowsPerStrip).toBe(1024);
		expect(colsPerStrip % 1024).toBe(0);
		expect(colsPerStrip).toBeLessThan(10980);
		expectCover(10980, 10980, strips);
		for (const strip of strips) {
			expect(strip.colStart % 1024).toBe(0);
			expect(
				windowBytes(strip.rowEnd - strip.rowStart, strip.colEnd - strip.colStart, raster, inputs),
			).toBeLessThanOrEqual(64 * MiB);
		}
	});

	it("aligns to every input's block height when affordable, else to the output tile only", () => {
		const mixed = [input("red", "a", 2, [2000, 96]), input("nir", "b", 2, [2000, 128])];
		expect(planStrips(2000, 20_000, mixed, 64 * MiB).rowsPerStrip % 1536).toBe(0);
		const tall = [input("red", "a", 2, [4000, 7000])];
		const { rowsPerStrip, strips } = planStrips(4000, 20_000, tall, 64 * MiB);
		expect(rowsPerStrip % OUTPUT_TILE).toBe(0);
		expectCover(4000, 20_000, strips);
	});

	it("never goes below one output tile, and keeps a small raster in one strip", () => {
		const inputs = [input("red", "a", 2, [256, 128]), input("nir", "b", 2, [256, 128])];
		const tiny = planStrips(1100, 700, inputs, 1000);
		expect([tiny.rowsPerStrip, tiny.colsPerStrip]).toEqual([512, 512]);
		expect(tiny.strips).toHaveLength(6);
		expectCover(1100, 700, tiny.strips);
		expect(planStrips(200, 300, inputs, 64 * MiB).strips).toEqual([
			{ index: 0, rowStart: 0, rowEnd: 300, colStart: 0, colEnd: 200 },
		]);
	});
});

describe("storeWorkingSetBytes", () => {
	const block = 1024 * 1024 * 4;

	it("is the top overview block's, whatever the width: every store invocation holds one block, one part or the layout", () => {
		// The top block: 1024 x 1024 float32, its tiles and coarser levels' (a third more) twice, their averages.
		expect(overviewWorkingSetBytes()).toBe(block + (2 * block * 4) / 3 + block / 3);
		expect(overviewWorkingSetBytes()).toBeGreaterThan(RESULT_PART_BYTES);
		for (const [width, height] of [
			[512, 512],
			[1030, 620],
			[10980, 10980],
			[65536, 65536],
			[65536, 512],
		] as const) {
			expect(storeWorkingSetBytes(width, height), `${width} x ${height}`).toBe(overviewWorkingSetBytes());
		}
	});

	it("grows only with the layout's few hundred bytes a tile, far past the largest raster accepted", () => {
		const widest = widestStorableWidth(10980, 64 * MiB);
		expect(storeWorkingSetBytes(widest, 10980)).toBeLessThanOrEqual(64 * MiB);
		expect(storeWorkingSetBytes(widest + 1, 10980)).toBeGreaterThan(64 * MiB);
		expect(widest).toBeGreaterThan(1_000_000);
		expect(widestStorableWidth(512, overviewWorkingSetBytes() - 1)).toBe(0);
	});
});
