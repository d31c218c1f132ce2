import { describe, expect, it } from "vitest";
import { decodedBytes, type PlannedInput, planStrips, type StripSpan, windowBytes } from "../../src/pipeline/plan";
import { RESULT_PART_BYTES, storeWorkingSetBytes, widestStorableWidth } from "../../src/pipeline/store/budget";
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

/** How many windows decode each block of each file: a window decodes every block it overlaps. */
function decodesPerBlock(
	width: number,
	height: number,
	strips: readonly StripSpan[],
	inputs: readonly PlannedInput[],
): number[] {
	const counts: number[] = [];
	for (const file of new Map(inputs.map((input) => [input.upload_id, input])).values()) {
		const across = Math.ceil(width / file.block_width);
		const down = Math.ceil(height / file.block_height);
		const fileCounts = new Array<number>(across * down).fill(0);
		for (const { rowStart, rowEnd, colStart, colEnd } of strips) {
			for (let y = Math.floor(rowStart / file.block_height); y * file.block_height < rowEnd; y++) {
				for (let x = Math.floor(colStart / file.block_width); x * file.block_width < colEnd; x++) {
					fileCounts[y * across + x] = (fileCounts[y * across + x] ?? 0) + 1;
				}
			}
		}
		counts.push(...fileCounts);
	}
	return counts;
}

/** Every window of the plan within the budget, evaluated as the plan says. */
function expectWithin(
	raster: { width: number; height: number },
	plan: ReturnType<typeof planStrips>,
	inputs: readonly PlannedInput[],
	budget: number,
): void {
	for (const strip of plan.strips) {
		const rows = strip.rowEnd - strip.rowStart;
		const columns = strip.colEnd - strip.colStart;
		expect(windowBytes(rows, columns, raster, inputs, plan.chunkColumns)).toBeLessThanOrEqual(budget);
	}
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

	it("decodes each strip of GDAL's default layout once: full-width windows, evaluated in chunks of columns", () => {
		// A 10980-pixel Sentinel-2 band written by GDAL without TILED=YES: one-row strips.
		const inputs = [input("red", "a", 2, [10980, 1]), input("nir", "b", 2, [10980, 1])];
		const raster = { width: 10980, height: 10980 };
		// A full-width window evaluated whole is over budget; evaluated 512 columns at a time it fits.
		expect(windowBytes(512, 10980, raster, inputs)).toBeGreaterThan(64 * MiB);
		expect(windowBytes(512, 10980, raster, inputs, 512)).toBeLessThanOrEqual(64 * MiB);
		const plan = planStrips(10980, 10980, inputs, 64 * MiB);
		expect(plan.colsPerStrip).toBe(10980);
		expect(plan.rowsPerStrip).toBe(512);
		expect(plan.chunkColumns % OUTPUT_TILE).toBe(0);
		expect(plan.chunkColumns).toBeLessThan(10980);
		expectCover(10980, 10980, plan.strips);
		expectWithin(raster, plan, inputs, 64 * MiB);
		const decodes = decodesPerBlock(10980, 10980, plan.strips, inputs);
		expect(decodes).toHaveLength(2 * 10980);
		expect(new Set(decodes)).toEqual(new Set([1]));
		expect(decodedBytes(plan.strips, inputs)).toBe(2 * 2 * 10980 * 10980);
	});

	it("keeps tiled inputs in windows evaluated whole, each tile decoded once", () => {
		const inputs = [input("red", "a", 2, [1024, 1024]), input("nir", "b", 2, [1024, 1024])];
		const plan = planStrips(10980, 10980, inputs, 64 * MiB);
		expect([plan.rowsPerStrip, plan.colsPerStrip, plan.chunkColumns]).toEqual([1024, 2048, 2048]);
		expect(new Set(decodesPerBlock(10980, 10980, plan.strips, inputs))).toEqual(new Set([1]));
	});

	it("decodes every block once across inputs of different layouts and strip heights", () => {
		const raster = { width: 10980, height: 10980 };
		const mixed = [input("red", "a", 2, [512, 512]), input("nir", "b", 2, [10980, 16])];
		const plan = planStrips(10980, 10980, mixed, 64 * MiB);
		expect(plan.colsPerStrip).toBe(10980);
		expectWithin(raster, plan, mixed, 64 * MiB);
		expect(new Set(decodesPerBlock(10980, 10980, plan.strips, mixed))).toEqual(new Set([1]));
		// Strips of 3 rows (GDAL's default at 1100 UInt16 columns): rows aligned to 1536, not 512.
		const threes = [input("red", "a", 2, [1100, 3]), input("nir", "b", 2, [1100, 3])];
		const aligned = planStrips(1100, 5000, threes, 64 * MiB);
		expect(aligned.rowsPerStrip % 1536).toBe(0);
		expect(new Set(decodesPerBlock(1100, 5000, aligned.strips, threes))).toEqual(new Set([1]));
	});

	it("falls back to column windows that keep only their part of each strip when no full-width window fits", () => {
		// Float64 strips 16000 pixels wide: 512 full-width rows of both inputs take 125 MiB decoded.
		const inputs = [input("red", "a", 8, [16000, 1]), input("nir", "b", 8, [16000, 1])];
		const raster = { width: 16000, height: 2048 };
		expect(windowBytes(512, 16000, raster, inputs, 512)).toBeGreaterThan(64 * MiB);
		const plan = planStrips(16000, 2048, inputs, 64 * MiB);
		expect(plan.colsPerStrip).toBeLessThan(16000);
		expect(plan.colsPerStrip % OUTPUT_TILE).toBe(0);
		expectCover(16000, 2048, plan.strips);
		expectWithin(raster, plan, inputs, 64 * MiB);
		// Each strip is decoded by every column window across it, and by no other.
		const across = Math.ceil(16000 / plan.colsPerStrip);
		expect(new Set(decodesPerBlock(16000, 2048, plan.strips, inputs))).toEqual(new Set([across]));
	});

	it("never goes below one output tile, and keeps a small raster in one strip", () => {
		const inputs = [input("red", "a", 2, [256, 128]), input("nir", "b", 2, [256, 128])];
		const tiny = planStrips(1100, 700, inputs, 1000);
		expect([tiny.rowsPerStrip, tiny.colsPerStrip, tiny.chunkColumns]).toEqual([512, 512, 512]);
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

describe("windowBytes of resampled inputs", () => {
	const crs = {
		modelPixelScale: null,
		modelTiepoint: null,
		modelTransformation: null,
		geoKeyDirectory: null,
		geoDoubleParams: null,
		geoAsciiParams: null,
	};
	const placed = (scale: "coarser" | "finer", factor: number, size: number) => ({
		resampling: "bilinear" as const,
		mapping: {
			name: "b",
			grid: {
				geotransform: [0, 10, 0, 0, 0, -10] as [number, number, number, number, number, number],
				width: size,
				height: size,
				crs,
			},
			scale,
			factor,
			colOffset: 0,
			rowOffset: 0,
			columns: { targetStep: 1, sourceStep: 1, offset: 0 },
			rows: { targetStep: 1, sourceStep: 1, offset: 0 },
			identity: false,
		},
	});
	const red = input("red", "upl_red", 2, [512, 512]);
	const b = input("b", "upl_b", 2, [512, 512]);

	it("holds each resampled input's float32 values for the whole window, and a coarser one's few source pixels", () => {
		const raster = { width: 2048, height: 2048 };
		const coarser = windowBytes(512, 2048, raster, [red, { ...b, placement: placed("coarser", 2, 1024) }]);
		const onGrid = windowBytes(512, 2048, raster, [red, b]);
		// Its float32 values for the window (4 bytes a pixel) outweigh the blocks a quarter of the
		// pixels hold (2 bytes a pixel of the window); its own reader and copies stay small.
		expect(coarser).toBeGreaterThan(onGrid);
		expect(coarser).toBeLessThan(onGrid + 512 * 2048 * 6);
	});

	it("counts a finer input's source pixels: factor² times the window's (grid.like a coarser input)", () => {
		const raster = { width: 1830, height: 1830 };
		const window = windowBytes(512, 1830, raster, [{ ...red, placement: placed("finer", 6, 10980) }]);
		expect(window).toBeGreaterThan(512 * 6 * 1830 * 6 * (2 + 8 + 4));
	});
});
