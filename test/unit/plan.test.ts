import { describe, expect, it } from "vitest";
import { bytesPerRow, type PlannedInput, planStrips } from "../../src/pipeline/plan";

const input = (name: string, uploadId: string, bytesPerPixel: number): PlannedInput => ({
	name,
	upload_id: uploadId,
	object_key: `uploads/${uploadId}.tif`,
	href: null,
	bytes: 1,
	band: 1,
	data_type: "UInt16",
	nodata: null,
	bytes_per_pixel: bytesPerPixel,
	block_height: 128,
});

describe("strip plan", () => {
	it("counts each file's decoded blocks once, however many of its bands are inputs", () => {
		const width = 1000;
		const twoFiles = bytesPerRow(width, [input("red", "a", 2), input("nir", "b", 2)]);
		const oneFourBandFile = bytesPerRow(width, [input("red", "a", 8), input("nir", "a", 8)]);
		// Two files: 2 x (2 x 2 B decoded) + 2 x 4 B float32 inputs + 4 B output per pixel.
		expect(twoFiles).toBe(width * (2 * 2 * 2 + 2 * 4 + 4));
		expect(oneFourBandFile).toBe(width * (2 * 8 + 2 * 4 + 4));
	});

	it("cuts rows into block-aligned strips under the budget, covering every row once", () => {
		const { rowsPerStrip, strips } = planStrips(1000, 100, 30_000, [128]);
		expect(rowsPerStrip).toBe(256);
		expect(strips.map((strip) => [strip.rowStart, strip.rowEnd])).toEqual([
			[0, 256],
			[256, 512],
			[512, 768],
			[768, 1000],
		]);
		expect(strips.map((strip) => strip.index)).toEqual([0, 1, 2, 3]);
	});

	it("takes one block row when even that exceeds the budget, and one strip for a small raster", () => {
		expect(planStrips(300, 1_000_000, 1000, [64]).rowsPerStrip).toBe(64);
		const small = planStrips(200, 100, 64 * 1024 * 1024, [7]);
		expect(small.strips).toEqual([{ index: 0, rowStart: 0, rowEnd: 200 }]);
	});

	it("aligns to every input's block height", () => {
		expect(planStrips(10_000, 1, 1000, [128, 96]).rowsPerStrip % 384).toBe(0);
	});
});
