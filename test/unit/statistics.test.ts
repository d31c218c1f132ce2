import { describe, expect, it } from "vitest";
import {
	histogramEdges,
	mergeStripStats,
	PERCENTILE_BINS,
	percentileHistogram,
	type StripOutput,
} from "../../src/pipeline/publish/statistics";
import { statsCopied } from "../arena";
import { exactPercentile } from "../percentile";

const range = { first: -1, last: 1, bins: 20 };
const ndvi = { index: "NDVI", expression: "(nir - red)/(nir + red)", constants: {}, histogram: range };

/** A strip's output as compute records it (without tiles). */
function stripOutput(values: Float32Array): StripOutput {
	const fine = statsCopied(values, percentileHistogram(range));
	return { ...statsCopied(values, range), percentile_counts: fine.histogram_counts, tile_bytes: [] };
}

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
		const whole = mergeStripStats(ndvi, {}, [stripOutput(values)]);
		const cuts = [0, 1, 40_000, 40_001, 77_777, values.length];
		const strips = cuts.slice(1).map((end, i) => stripOutput(values.subarray(cuts[i], end)));
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
		const stats = mergeStripStats(ndvi, {}, [stripOutput(new Float32Array([Number.NaN, Number.NaN]))]);
		expect(stats).toMatchObject({ count: 0, nodata_count: 2, min: null, max: null, mean: null, std: null });
		expect(stats.percentiles).toEqual({ p2: null, p50: null, p98: null });
	});

	it("estimate p2, p50 and p98 within one fine bin of numpy's linear percentiles, across strips", () => {
		// Inside the histogram's range [-1, 1], as an index's values are.
		const values = randomValues(100_003, 11).map((value) => value / 1.25);
		const cuts = [0, 33_333, 66_666, values.length];
		const merged = mergeStripStats(
			ndvi,
			{},
			cuts.slice(1).map((end, i) => stripOutput(values.subarray(cuts[i], end))),
		);
		const binWidth = (range.last - range.first) / PERCENTILE_BINS;
		for (const [key, percent] of [
			["p2", 2],
			["p50", 50],
			["p98", 98],
		] as const) {
			const estimate = merged.percentiles[key];
			expect(estimate).not.toBeNull();
			expect(Math.abs((estimate as number) - exactPercentile(values, percent)), key).toBeLessThanOrEqual(binWidth);
		}
		// A value beyond the histogram's range is outside every bin: the estimate falls back to min or max.
		const skewed = Float32Array.from({ length: 100 }, (_, i) => (i < 5 ? -3 - i : 0.5));
		const edges = mergeStripStats(ndvi, {}, [stripOutput(skewed)]);
		expect(edges.percentiles.p2).toBe(edges.min);
	});

	it("use numpy's histogram edges", () => {
		const edges = histogramEdges(range);
		expect(edges).toHaveLength(21);
		expect(edges[0]).toBe(-1);
		expect(edges[6]).toBe(-0.3999999999999999);
		expect(edges[20]).toBe(1);
	});
});
