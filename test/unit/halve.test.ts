import { describe, expect, it } from "vitest";
import { halve } from "../../src/raster/tiles";
import { seededRandom } from "../random";

/** GDAL's AVERAGE over each 2 x 2 block, spelled out: the valid pixels that exist, summed in order. */
function referenceHalf(values: Float32Array, width: number, height: number): Float32Array {
	const halfWidth = Math.ceil(width / 2);
	const out = new Float32Array(halfWidth * Math.ceil(height / 2));
	for (let y = 0; y < height; y += 2) {
		for (let x = 0; x < width; x += 2) {
			const block = [
				[x, y],
				[x + 1, y],
				[x, y + 1],
				[x + 1, y + 1],
			].filter(([column = 0, row = 0]) => column < width && row < height);
			const valid = block.map(([column = 0, row = 0]) => values[row * width + column] as number);
			const kept = valid.filter((value) => !Number.isNaN(value));
			let sum = 0;
			for (const value of kept) sum += value;
			out[(y / 2) * halfWidth + x / 2] = kept.length === 0 ? Number.NaN : sum / kept.length;
		}
	}
	return out;
}

describe("halve", () => {
	it.each([
		[8, 6],
		[7, 5],
		[1, 1],
		[1, 9],
		[9, 1],
	])("averages the valid pixels of each 2 x 2 block of a %i x %i raster, odd edges included", (width, height) => {
		const random = seededRandom(width * 100 + height);
		// Wide magnitudes, so the order of the float64 sums matters, and a third of the pixels NaN.
		const values = Float32Array.from({ length: width * height }, () =>
			random() < 0.3 ? Number.NaN : (random() - 0.5) * 10 ** Math.floor(random() * 20 - 10),
		);
		const half = halve({ values, width, height });
		expect([half.width, half.height]).toEqual([Math.ceil(width / 2), Math.ceil(height / 2)]);
		expect(Array.from(half.values)).toEqual(Array.from(referenceHalf(values, width, height)));
	});

	it("is NaN where a block holds no valid pixel", () => {
		const values = Float32Array.from([Number.NaN, Number.NaN, 1, Number.NaN, Number.NaN, Number.NaN, 3, 5]);
		expect(Array.from(halve({ values, width: 4, height: 2 }).values)).toEqual([Number.NaN, 3]);
	});

	it("writes into the array it is given, which must be the half's size", () => {
		const values = Float32Array.from({ length: 16 }, (_, i) => i);
		const rows = new Float32Array(8).fill(-1);
		const half = halve({ values, width: 4, height: 4 }, rows.subarray(2, 6));
		expect(half.values.buffer).toBe(rows.buffer);
		expect(Array.from(rows)).toEqual([-1, -1, 2.5, 4.5, 10.5, 12.5, -1, -1]);
		expect(() => halve({ values, width: 4, height: 4 }, new Float32Array(5))).toThrow(RangeError);
	});
});
