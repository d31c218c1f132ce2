import { describe, expect, it } from "vitest";
import { histogramEdges, mergeStripStats } from "../../src/pipeline/publish/statistics";
import { kernels } from "../../src/wasm/index";

const range = { first: -1, last: 1, bins: 20 };
const ndvi = { index: "NDVI", expression: "(nir - red)/(nir + red)", constants: {}, histogram: range };

function randomValues(count: number, seed: number): Float32Array {
	let state = seed;
	const values = new Float32Array(count);
	for (let i = 0; i < count; i++) {
		state = (state * 1103515245 + 12345) >>> 0;
		values[i] = i % 17 === 0 ? Number.NaN : (state / 2 ** 32) * 2.4 - 1.2;
	}
	return values;
}

describe("job statistics", () => {
	it("merged from strips equal the statistics of the whole raster", () => {
		const values = randomValues(100_003, 7);
		const whole = mergeStripStats(ndvi, {}, [kernels.stripStats(values, range)]);
		const cuts = [0, 1, 40_000, 40_001, 77_777, values.length];
		const strips = cuts.slice(1).map((end, i) => kernels.stripStats(values.subarray(cuts[i], end), range));
		const merged = mergeStripStats(ndvi, {}, strips);

		expect(merged.count).toBe(whole.count);
		expect(merged.nodata_count).toBe(whole.nodata_count);
		expect(merged.min).toBe(whole.min);
		expect(merged.max).toBe(whole.max);
		expect(merged.histogram).toEqual(whole.histogram);
		expect(merged.mean).toBeCloseTo(whole.mean ?? Number.NaN, 12);
		expect(merged.std).toBeCloseTo(whole.std ?? Number.NaN, 12);

		let sum = 0;
		let count = 0;
		for (const value of values) {
			if (Number.isNaN(value)) continue;
			sum += value;
			count++;
		}
		const mean = sum / count;
		let squares = 0;
		for (const value of values) if (!Number.isNaN(value)) squares += (value - mean) ** 2;
		expect(merged.count).toBe(count);
		expect(merged.mean).toBeCloseTo(mean, 12);
		expect(merged.std).toBeCloseTo(Math.sqrt(squares / count), 12);
		expect(merged.histogram.below_range + merged.histogram.above_range).toBeGreaterThan(0);
		expect(
			merged.histogram.counts.reduce((a, b) => a + b, 0) + merged.histogram.below_range + merged.histogram.above_range,
		).toBe(count);
	});

	it("of a raster with no valid pixel have null min, max, mean and std", () => {
		const stats = mergeStripStats(ndvi, {}, [kernels.stripStats(new Float32Array([Number.NaN, Number.NaN]), range)]);
		expect(stats).toMatchObject({ count: 0, nodata_count: 2, min: null, max: null, mean: null, std: null });
	});

	it("use numpy's histogram edges", () => {
		const edges = histogramEdges(range);
		expect(edges).toHaveLength(21);
		expect(edges[0]).toBe(-1);
		expect(edges[6]).toBe(-0.3999999999999999);
		expect(edges[20]).toBe(1);
	});
});
