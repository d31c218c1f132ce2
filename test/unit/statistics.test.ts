import { describe, expect, it } from "vitest";
import {
	keyValue,
	mergeSketchPairs,
	QuantileSketch,
	SKETCH_RELATIVE_ERROR,
	sketchKey,
} from "../../src/processes/index/quantile-sketch";
import {
	addHistogram,
	dataHistogram,
	emptyHistogram,
	histogramEdges,
	mergedExtremes,
	mergeStripStats,
	resultWarnings,
	type StripOutput,
} from "../../src/processes/index/statistics";
import { kernels } from "../../src/wasm/index";
import type { HistogramCounts, HistogramSpec } from "../../src/wasm/kernels";
import { statsCopied } from "../arena";
import allNan from "../fixtures/statistics/all_nan.f32";
import bimodalWithNodata from "../fixtures/statistics/bimodal_with_nodata.f32";
import cauchy from "../fixtures/statistics/cauchy.f32";
import constant from "../fixtures/statistics/constant.f32";
import expectedJson from "../fixtures/statistics/expected.json";
import lognormal from "../fixtures/statistics/lognormal.f32";
import negative from "../fixtures/statistics/negative.f32";
import rawDnDifference from "../fixtures/statistics/raw_dn_difference.f32";
import uniform from "../fixtures/statistics/uniform.f32";
import zerosAndTiny from "../fixtures/statistics/zeros_and_tiny.f32";
import { percentileNeighbours } from "../percentile";

/** What numpy says of each distribution (test/fixtures/statistics/generate.py). */
interface NumpyStatistics {
	pixels: number;
	count: number;
	min?: number;
	max?: number;
	mean?: number;
	std?: number;
	percentiles?: { p2: number; p50: number; p98: number };
	histogram?: { edges: number[]; counts: number[] };
	fixed_histogram?: {
		range: [number, number];
		bins: number;
		edges: number[];
		counts: number[];
		below: number;
		above: number;
	};
}

const expected = expectedJson as unknown as Record<string, NumpyStatistics>;
const distributions: Record<string, ArrayBuffer> = {
	uniform,
	lognormal,
	cauchy,
	constant,
	all_nan: allNan,
	negative,
	raw_dn_difference: rawDnDifference,
	bimodal_with_nodata: bimodalWithNodata,
	zeros_and_tiny: zerosAndTiny,
};

const formula = { index: null, expression: "x", constants: {} };

/** Uneven windows, as a raster's are: the sketch and sums must merge across them. */
function windowsOf(values: Float32Array): Float32Array[] {
	const cuts = [0, 1, Math.floor(values.length / 3), Math.floor(values.length / 3) + 4097, values.length];
	return cuts.slice(1).map((end, i) => values.subarray(cuts[i], end));
}

/** Bins `values` over `spec` as the histogram stage does, in an arena's output. */
function binned(values: Float32Array, spec: HistogramSpec): HistogramCounts {
	const arena = kernels.arena({ pixels: values.length, inputs: [] });
	arena.output.set(values);
	const counts = emptyHistogram(spec);
	arena.addToHistogram(spec, counts);
	return counts;
}

/** Statistics of `values` computed window by window and merged, as a job's are. */
function jobStatistics(values: Float32Array, fixed?: HistogramSpec) {
	const windows = windowsOf(values);
	const sketch = new QuantileSketch();
	const strips: StripOutput[] = [];
	const fixedCounts = fixed ? emptyHistogram(fixed) : null;
	for (const window of windows) {
		const { sketch: pairs, histogram, ...partials } = statsCopied(window, fixed ?? null);
		sketch.add(pairs);
		strips.push({ ...partials, tile_bytes: [] });
		if (fixedCounts && histogram) addHistogram(fixedCounts, histogram);
	}
	const spec = fixed ?? dataHistogram({}, mergedExtremes(strips));
	const counts = fixedCounts ?? emptyHistogram(spec);
	if (!fixed) for (const window of windows) addHistogram(counts, binned(window, spec));
	return mergeStripStats(strips, {
		formula,
		inputs: {},
		histogram: { spec, source: fixed ? "request" : "data", counts },
		sketch,
		warnings: [],
	});
}

describe.each(Object.keys(distributions))("statistics of the %s distribution, against numpy", (name) => {
	const values = new Float32Array(distributions[name] as ArrayBuffer);
	const want = expected[name] as NumpyStatistics;

	it("count, min and max exactly; mean and std to 1e-9; percentiles within the stated bound", () => {
		const stats = jobStatistics(values);
		expect(stats.count).toBe(want.count);
		expect(stats.nodata_count).toBe(want.pixels - want.count);
		expect(stats.percentile_relative_error).toBe(SKETCH_RELATIVE_ERROR);
		if (want.count === 0) {
			expect(stats).toMatchObject({ min: null, max: null, mean: null, std: null });
			expect(stats.percentiles).toEqual({ p2: null, p50: null, p98: null });
			return;
		}
		expect(stats.min).toBe(want.min);
		expect(stats.max).toBe(want.max);
		const scale = (want.std as number) + Math.abs(want.mean as number);
		expect(Math.abs((stats.mean as number) - (want.mean as number))).toBeLessThanOrEqual(1e-9 * scale);
		expect(Math.abs((stats.std as number) - (want.std as number))).toBeLessThanOrEqual(1e-9 * scale);
		for (const [key, percent] of [
			["p2", 2],
			["p50", 50],
			["p98", 98],
		] as const) {
			const [below, above] = percentileNeighbours(values, percent);
			const bound = SKETCH_RELATIVE_ERROR * Math.max(Math.abs(below), Math.abs(above));
			const got = stats.percentiles[key] as number;
			expect(Math.abs(got - (want.percentiles?.[key] as number)), key).toBeLessThanOrEqual(bound * (1 + 1e-9));
		}
	});

	it("histogram over its own min and max: numpy's edges and counts, exactly", () => {
		const stats = jobStatistics(values);
		expect(stats.histogram.range_source).toBe("data");
		if (want.count === 0) {
			// numpy.histogram of no values spans [0, 1], with every bin empty.
			expect(stats.histogram.edges).toEqual(histogramEdges({ first: 0, last: 1, bins: 20 }));
			expect(stats.histogram.counts).toEqual(new Array(20).fill(0));
			return;
		}
		expect(stats.histogram.edges).toEqual(want.histogram?.edges);
		expect(stats.histogram.counts).toEqual(want.histogram?.counts);
		expect(stats.histogram.below_range + stats.histogram.above_range).toBe(0);
	});

	it("histogram over fixed edges, counted in the first pass: numpy's counts", () => {
		const fixed = want.fixed_histogram ?? {
			range: [-0.5, 0.5],
			bins: 10,
			edges: histogramEdges({ first: -0.5, last: 0.5, bins: 10 }),
			counts: new Array(10).fill(0),
			below: 0,
			above: 0,
		};
		const stats = jobStatistics(values, { first: fixed.range[0], last: fixed.range[1], bins: fixed.bins });
		expect(stats.histogram.range_source).toBe("request");
		expect(stats.histogram.edges).toEqual(fixed.edges);
		expect(stats.histogram.counts).toEqual(fixed.counts);
		expect(stats.histogram.below_range).toBe(fixed.below);
		expect(stats.histogram.above_range).toBe(fixed.above);
	});
});

describe("the quantile sketch", () => {
	it("stands for every float32 within its relative error, and keeps zero and the sign", () => {
		const probe = new Float32Array(4096);
		let state = 12345;
		for (let i = 0; i < probe.length; i++) {
			state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
			// Every exponent of a normal float32, both signs.
			probe[i] = (state & 1 ? -1 : 1) * 2 ** ((state % 252) - 126) * (1 + (state >>> 8) / 2 ** 24);
		}
		const keys = new Uint32Array(probe.buffer.slice(0));
		probe.forEach((value, i) => {
			const key = (keys[i] as number) >>> 16;
			expect(Math.abs(keyValue(key) - value)).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * Math.abs(value));
		});
		expect(keyValue(0)).toBe(0);
		expect(Object.is(keyValue(0x8000), -0)).toBe(true);
	});

	it("adds windows' counts and reads order statistics in value order", () => {
		const sketch = new QuantileSketch();
		const values = new Float32Array([-3, -0.5, 0, 0.25, 7, 7]);
		const keys = new Uint32Array(values.buffer.slice(0)).map((bits) => bits >>> 16);
		for (const key of keys) sketch.add(new Uint32Array([key, 1]));
		expect(sketch.count).toBe(6);
		const got = sketch.orderStatistics([0, 1, 2, 3, 4, 5]);
		got.forEach((value, i) => {
			expect(Math.abs(value - (values[i] as number))).toBeLessThanOrEqual(
				SKETCH_RELATIVE_ERROR * Math.abs(values[i] as number),
			);
		});
		expect(() => sketch.orderStatistics([6])).toThrow(RangeError);
	});

	it("takes fractional weights, reads weighted percentiles by the inverted-CDF rule and round-trips sparse bytes", () => {
		const sketch = new QuantileSketch();
		for (const [value, weight] of [
			[3, 0.5],
			[-2, 0.25],
			[1, 0.25],
			[3, 0.5],
		] as const) {
			sketch.addWeighted(value, weight);
			expect(sketchKey(value)).toBe((new Uint32Array(new Float32Array([value]).buffer)[0] as number) >>> 16);
		}
		// Weights -2: 0.25, 1: 0.25, 3: 1 of 1.5; q = 16 asks for 0.24, q = 16.7 for 0.2505.
		const qs = [50, 0, 16, 16.7, 100];
		const read = (s: QuantileSketch) => s.weightedPercentiles(qs);
		const exact = [3, -2, -2, 1, 3];
		read(sketch).forEach((estimate, i) => {
			const value = exact[i] as number;
			expect(Math.abs(estimate - value)).toBeLessThanOrEqual(SKETCH_RELATIVE_ERROR * Math.abs(value));
		});
		const bytes = sketch.toBytes();
		expect(bytes.byteLength).toBe(8192 + 8 * 3);
		const back = QuantileSketch.fromBytes(bytes);
		expect(read(back)).toEqual(read(sketch));
		back.merge(sketch);
		expect(back.count).toBe(3);
		expect(read(back)).toEqual(read(sketch));
		expect(() => QuantileSketch.fromBytes(bytes.subarray(0, 8200))).toThrow(RangeError);
		expect(() => new QuantileSketch().weightedPercentiles([50])).toThrow(RangeError);
		expect(() => sketch.weightedPercentiles([101])).toThrow(RangeError);
	});

	it("merges two windows' pairs into keys ascending, adding the counts of keys both hold", () => {
		const pairsOf = (counts: Map<number, number>) =>
			Uint32Array.from([...counts].sort(([a], [b]) => a - b).flatMap(([key, count]) => [key, count]));
		let state = 7;
		const random = (below: number) => {
			state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
			return state % below;
		};
		for (const [keysA, keysB] of [
			[0, 0],
			[5, 0],
			[0, 5],
			[40, 40],
			[300, 7],
		] as const) {
			const a = new Map<number, number>();
			const b = new Map<number, number>();
			for (let i = 0; i < keysA; i++) a.set(random(600), 1 + random(1000));
			for (let i = 0; i < keysB; i++) b.set(random(600), 1 + random(1000));
			const both = new Map(a);
			for (const [key, count] of b) both.set(key, (both.get(key) ?? 0) + count);
			expect(Array.from(mergeSketchPairs(pairsOf(a), pairsOf(b)))).toEqual(Array.from(pairsOf(both)));
		}
		// Keys past each other's last, and the whole of one list after the other's.
		expect(Array.from(mergeSketchPairs(Uint32Array.of(1, 2, 9, 1), Uint32Array.of(3, 4, 9, 2, 65535, 5)))).toEqual([
			1, 2, 3, 4, 9, 3, 65535, 5,
		]);
	});

	it("refuses pairs that are not pairs or keys past 16 bits", () => {
		expect(() => new QuantileSketch().add(new Uint32Array([1]))).toThrow(RangeError);
		expect(() => new QuantileSketch().add(new Uint32Array([65536, 1]))).toThrow(RangeError);
	});

	it("is refused when it holds other values than the windows counted", () => {
		const { sketch: pairs, histogram: _, ...partials } = statsCopied(new Float32Array([1, 2, 3]), null);
		const spec = { first: 1, last: 3, bins: 2 };
		expect(() =>
			mergeStripStats([{ ...partials, tile_bytes: [] }], {
				formula,
				inputs: {},
				histogram: { spec, source: "data", counts: emptyHistogram(spec) },
				sketch: new QuantileSketch(),
				warnings: [],
			}),
		).toThrow(/sketch holds 0 values/);
		expect(pairs.length).toBe(6);
	});
});

describe("histogram edges from the data", () => {
	it("widen a constant as numpy does, and one too large for 0.5 to move by its own ulps", () => {
		expect(dataHistogram({}, { min: 0.42, max: 0.42 })).toEqual({ first: 0.42 - 0.5, last: 0.42 + 0.5, bins: 20 });
		const value = Math.fround(3e38);
		const huge = dataHistogram({ histogram: { bins: 4 } }, { min: value, max: value });
		expect(huge.first).toBeLessThan(value);
		expect(huge.last).toBeGreaterThan(value);
		const counts = binned(new Float32Array([3e38, 3e38]), huge);
		expect(counts.counts.reduce((sum, count) => sum + count, 0)).toBe(2);
		expect(dataHistogram({}, { min: null, max: null })).toEqual({ first: 0, last: 1, bins: 20 });
	});
});

describe("result warnings", () => {
	const evi = { index: "EVI", additiveConstants: ["L = 1"] };
	const inputs = { nir: { scale: 1, offset: 0 }, red: { scale: 0.0001, offset: -0.1 } };
	const counted = { count: 10, nodata_count: 0, masked_count: 0 };

	it("name an input most of whose values are far outside reflectance, for a formula adding constants", () => {
		const warnings = resultWarnings(evi, inputs, [
			{ ...counted, input_samples: { nir: { sampled: 100, far_outside: 60 }, red: { sampled: 100, far_outside: 0 } } },
			{ ...counted, input_samples: { nir: { sampled: 100, far_outside: 41 }, red: { sampled: 100, far_outside: 0 } } },
		]);
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toMatchObject({ code: "inputs-not-reflectance", input: "nir" });
		expect(warnings[0]?.message).toMatch(/EVI adds L = 1.*51% of 'nir'.*inputs\.nir\.scale/);
	});

	it("are none for a formula without additive constants, or inputs mostly in range", () => {
		const samples = [{ ...counted, input_samples: { nir: { sampled: 10, far_outside: 10 } } }];
		expect(resultWarnings({ index: "NDVI", additiveConstants: [] }, inputs, samples)).toEqual([]);
		expect(
			resultWarnings(evi, inputs, [{ ...counted, input_samples: { nir: { sampled: 10, far_outside: 5 } } }]),
		).toEqual([]);
		expect(resultWarnings(evi, inputs, [counted])).toEqual([]);
	});

	it("say so when no pixel has a value, with the nodata and masked counts apart", () => {
		const warnings = resultWarnings({ index: "NDVI", additiveConstants: [] }, inputs, [
			{ count: 0, nodata_count: 7, masked_count: 3 },
			{ count: 0, nodata_count: 5 },
		]);
		expect(warnings).toEqual([
			{
				code: "no-valid-pixels",
				message: expect.stringMatching(/^No pixel has a value: 12 are nodata .* and 3 are masked/),
			},
		]);
		expect(resultWarnings({ index: "NDVI", additiveConstants: [] }, inputs, [{ ...counted, count: 1 }])).toEqual([]);
	});
});
