// Checks the Wasm band-math kernels against plain TypeScript references on seeded
// random inputs mixed with the edge values each kernel has a rule for. NDVI runs through the
// formula evaluator as a job compiles it, and must match numpy's float32 bit for bit.
import { describe, expect, it } from "vitest";
import { compileFormula } from "../../src/indices/formula";
import type { SampleArray } from "../../src/raster/samples";
import { kernels } from "../../src/wasm/index";
import { ARENA_FILL_BYTE, type WindowStats } from "../../src/wasm/kernels";
import { evaluateCopied, statsCopied } from "../arena";
import { seededRandom } from "../random";

const ndvi = compileFormula({ index: "NDVI", inputs: { nir: {}, red: {} } });

/** (a - b) / (a + b) through the evaluator: NDVI's inputs are nir, then red. */
function normalizedDifference(
	a: SampleArray,
	b: SampleArray,
	nodataA: number | null,
	nodataB: number | null,
): Float32Array {
	const inputs = [
		{ data: a, nodata: nodataA, scale: 1, offset: 0 },
		{ data: b, nodata: nodataB, scale: 1, offset: 0 },
	];
	return evaluateCopied(ndvi.program, inputs);
}

const LENGTHS = [0, 1, 3, 5, 4097];

function pick<T>(random: () => number, items: readonly T[]): T {
	const item = items[Math.floor(random() * items.length)];
	if (item === undefined) throw new Error("pick from an empty list");
	return item;
}

/** GDAL's rule: a pixel is nodata when it equals the nodata value cast to the band's type. */
function isNodata(band: SampleArray, i: number, nodata: number | null): boolean {
	if (nodata === null) return false;
	return band instanceof Float32Array ? band[i] === Math.fround(nodata) : band[i] === nodata;
}

/** numpy float32 (a - b) / (a + b) with the kernel's NaN rules, one pixel at a time. */
function referenceNormalizedDifference(
	a: SampleArray,
	b: SampleArray,
	nodataA: number | null,
	nodataB: number | null,
): Float32Array {
	const out = new Float32Array(a.length);
	for (let i = 0; i < a.length; i++) {
		const x = Math.fround(a[i] ?? Number.NaN);
		const y = Math.fround(b[i] ?? Number.NaN);
		const sum = Math.fround(x + y);
		// An f64 result of an f32 add, subtract or divide rounds to the correctly rounded f32.
		const ratio = Math.fround(Math.fround(x - y) / sum);
		const masked = isNodata(a, i, nodataA) || isNodata(b, i, nodataB);
		out[i] = masked || sum === 0 || !Number.isFinite(ratio) ? Number.NaN : ratio;
	}
	return out;
}

/** Indices where two float32 arrays differ, treating NaN as equal to NaN and -0 as unequal to 0. */
function bitwiseMismatches(got: Float32Array, expected: Float32Array): number[] {
	const mismatches: number[] = [];
	for (let i = 0; i < expected.length; i++) {
		if (!Object.is(got[i], expected[i])) mismatches.push(i);
	}
	return mismatches;
}

interface SampleType {
	name: string;
	nodataA: number;
	nodataB: number;
	make(length: number, random: () => number): [SampleArray, SampleArray];
}

function fillPairs(
	a: SampleArray,
	b: SampleArray,
	random: () => number,
	special: readonly number[],
	draw: () => number,
): void {
	for (let i = 0; i < a.length; i++) {
		const roll = random();
		if (roll < 0.05) {
			// Opposite values give a + b == 0 in signed and float types; unsigned ones wrap.
			const v = draw();
			a[i] = v;
			b[i] = -v;
		} else if (roll < 0.1) {
			const v = draw();
			a[i] = v;
			b[i] = v;
		} else if (roll < 0.3) {
			a[i] = random() < 0.5 ? pick(random, special) : draw();
			b[i] = random() < 0.5 ? pick(random, special) : draw();
		} else {
			a[i] = draw();
			b[i] = draw();
		}
	}
}

const SAMPLE_TYPES: SampleType[] = [
	{
		name: "Uint16Array",
		nodataA: 0,
		nodataB: 65535,
		make(length, random) {
			const a = new Uint16Array(length);
			const b = new Uint16Array(length);
			const draw = () => Math.floor(random() * 65536);
			fillPairs(a, b, random, [0, 1, 65535], draw);
			return [a, b];
		},
	},
	{
		name: "Int16Array",
		nodataA: -32768,
		nodataB: -9999,
		make(length, random) {
			const a = new Int16Array(length);
			const b = new Int16Array(length);
			const draw = () => Math.floor(random() * 65536) - 32768;
			fillPairs(a, b, random, [0, -1, 1, -32768, 32767, -9999], draw);
			return [a, b];
		},
	},
	{
		name: "Float32Array",
		nodataA: -9999,
		nodataB: 3.4e38,
		make(length, random) {
			const a = new Float32Array(length);
			const b = new Float32Array(length);
			const draw = () => (random() - 0.5) * 2 ** Math.floor(random() * 40 - 20);
			// Huge values overflow a - b to Infinity; denormals and -0 probe the zero-sum rule.
			const special = [
				0,
				-0,
				Number.NaN,
				Number.POSITIVE_INFINITY,
				Number.NEGATIVE_INFINITY,
				3.4e38,
				-3.3e38,
				1e-45,
				-1e-45,
				-9999,
			];
			fillPairs(a, b, random, special, draw);
			return [a, b];
		},
	},
	{
		// Nodata above 2^24: its neighbours round onto it in float32 but are valid data.
		name: "Int32Array",
		nodataA: 16777217,
		nodataB: -2147483647,
		make(length, random) {
			const a = new Int32Array(length);
			const b = new Int32Array(length);
			const draw = () => Math.floor(random() * 2 ** 32) - 2 ** 31;
			fillPairs(a, b, random, [0, 16777216, 16777217, 16777218, -2147483648, -2147483647, 2147483647], draw);
			return [a, b];
		},
	},
	{
		name: "Uint32Array",
		nodataA: 4294967295,
		nodataB: 0,
		make(length, random) {
			const a = new Uint32Array(length);
			const b = new Uint32Array(length);
			const draw = () => Math.floor(random() * 2 ** 32);
			fillPairs(a, b, random, [0, 1, 4294967295, 4294967294, 4294967040], draw);
			return [a, b];
		},
	},
	{
		name: "Float64Array",
		nodataA: Number.NaN,
		nodataB: 0.1,
		make(length, random) {
			const a = new Float64Array(length);
			const b = new Float64Array(length);
			const draw = () => random() * 2 - 1;
			// 1e39 is beyond float32 and 0.1 is not a float32: both change on conversion.
			const special = [0, -0, Number.NaN, 1e39, -1e39, 0.1, 0.10000000000000002, 1e-50];
			fillPairs(a, b, random, special, draw);
			return [a, b];
		},
	},
];

describe("NDVI through the evaluator", () => {
	for (const sampleType of SAMPLE_TYPES) {
		for (const length of LENGTHS) {
			it(`matches the float32 reference for ${sampleType.name} of length ${length}`, () => {
				const random = seededRandom(length * 31 + sampleType.name.length);
				const [a, b] = sampleType.make(length, random);
				const nodataCases: [number | null, number | null][] = [
					[null, null],
					[sampleType.nodataA, sampleType.nodataB],
				];
				for (const [nodataA, nodataB] of nodataCases) {
					const got = normalizedDifference(a, b, nodataA, nodataB);
					const expected = referenceNormalizedDifference(a, b, nodataA, nodataB);
					expect(got.length).toBe(length);
					expect(bitwiseMismatches(got, expected)).toEqual([]);
				}
			});
		}
	}

	it("puts NaN exactly where the nodata, zero-sum and non-finite rules say", () => {
		const a = new Float32Array([5, 0, 3, 7, Number.NaN, 3.4e38, 2, 1]);
		const b = new Float32Array([1, 0, -3, 9, 1, -3.3e38, 2, 0]);
		const got = normalizedDifference(a, b, 7, null);
		expect(Array.from(got)).toEqual([
			Math.fround(4 / 6),
			Number.NaN,
			Number.NaN,
			Number.NaN,
			Number.NaN,
			Number.NaN,
			0,
			1,
		]);
	});

	it("gives the same bits when the bands' sample types differ (the general path, not the fused one)", () => {
		const random = seededRandom(77);
		const nir = Uint16Array.from({ length: 1001 }, () => Math.floor(random() * 10_000));
		const red = Uint16Array.from({ length: 1001 }, () => Math.floor(random() * 10_000));
		const fused = normalizedDifference(nir, red, 0, 0);
		const general = normalizedDifference(nir, Float32Array.from(red), 0, 0);
		expect(bitwiseMismatches(general, fused)).toEqual([]);
		expect(bitwiseMismatches(fused, referenceNormalizedDifference(nir, red, 0, 0))).toEqual([]);
	});
});

/** numpy.linspace(first, last, bins + 1): arange * step + first, last edge pinned. */
function linspaceEdges(first: number, last: number, bins: number): number[] {
	const step = (last - first) / bins;
	const edges: number[] = [];
	for (let i = 0; i < bins; i++) edges.push(i * step + first);
	edges.push(last);
	return edges;
}

/** A window's statistics but its sketch, which has tests of its own (statistics.test.ts). */
type SketchlessStats = Omit<WindowStats, "sketch">;

/**
 * Plain statistics plus numpy's general (searchsorted) histogram: bin k holds
 * edges[k] <= v < edges[k + 1], and the last bin also holds v == last. The kernel
 * uses numpy's uniform-bin fast path instead, which must land in the same bins.
 */
function referenceStripStats(values: Float32Array, first: number, last: number, bins: number): SketchlessStats {
	const edges = linspaceEdges(first, last, bins);
	const histogram = new Array<number>(bins).fill(0);
	const finite = Array.from(values).filter((v) => Number.isFinite(v));
	let sum = 0;
	let min = Number.POSITIVE_INFINITY;
	let max = Number.NEGATIVE_INFINITY;
	let below = 0;
	let above = 0;
	for (const v of finite) {
		sum += v;
		min = Math.min(min, v);
		max = Math.max(max, v);
		if (v < first) {
			below++;
		} else if (v > last) {
			above++;
		} else {
			let low = 0;
			let high = bins;
			// Largest k with edges[k] <= v, capped at the last bin.
			while (high - low > 1) {
				const middle = (low + high) >> 1;
				if ((edges[middle] ?? Number.NaN) <= v) low = middle;
				else high = middle;
			}
			histogram[low] = (histogram[low] ?? 0) + 1;
		}
	}
	const mean = sum / finite.length;
	let m2 = 0;
	for (const v of finite) m2 += (v - mean) * (v - mean);
	const empty = finite.length === 0;
	return {
		count: finite.length,
		nodata_count: values.length - finite.length,
		min: empty ? null : min,
		max: empty ? null : max,
		sum,
		m2,
		histogram: { counts: histogram, below, above },
	};
}

/** The float32 values one ulp either side of x (a float32 itself). */
function float32Neighbours(x: number): [number, number] {
	if (x === 0) return [-(2 ** -149), 2 ** -149];
	const bits = new Float32Array([x]);
	const asInt = new Int32Array(bits.buffer);
	const pattern = asInt[0] ?? 0;
	// Adding one to the bit pattern moves a float away from zero, whatever its sign.
	asInt[0] = pattern + 1;
	const awayFromZero = bits[0] ?? Number.NaN;
	asInt[0] = pattern - 1;
	const towardZero = bits[0] ?? Number.NaN;
	return x > 0 ? [towardZero, awayFromZero] : [awayFromZero, towardZero];
}

/** Values on, just below and just above every float32-rounded bin edge. */
function edgeNeighbours(first: number, last: number, bins: number): number[] {
	return linspaceEdges(first, last, bins).flatMap((edge) => {
		const onEdge = Math.fround(edge);
		return [onEdge, ...float32Neighbours(onEdge)];
	});
}

function expectRelativelyClose(got: number, expected: number): void {
	if (expected === 0) expect(got).toBe(0);
	else expect(Math.abs(got - expected) / Math.abs(expected)).toBeLessThanOrEqual(1e-9);
}

function expectStatsToMatch(got: WindowStats, expected: SketchlessStats): void {
	const { sum, m2, sketch: _, ...exact } = got;
	const { sum: expectedSum, m2: expectedM2, ...expectedExact } = expected;
	expect(exact).toEqual(expectedExact);
	expectRelativelyClose(sum, expectedSum);
	expectRelativelyClose(m2, expectedM2);
}

describe("stripStats", () => {
	const RANGES = [
		{ name: "awkward float edges", first: -0.3, last: 0.75, bins: 7 },
		{ name: "integer edges", first: 0, last: 256, bins: 64 },
		{ name: "NDVI range", first: -1, last: 1, bins: 20 },
	];
	for (const histogram of RANGES) {
		for (const length of LENGTHS) {
			it(`matches the reference for ${histogram.name}, length ${length}`, () => {
				const { first, last, bins } = histogram;
				const random = seededRandom(length * 7 + bins);
				const span = last - first;
				// An output holds finite values or NaN: the evaluator makes every other result NaN.
				const special = [...edgeNeighbours(first, last, bins), Number.NaN, -0];
				const values = new Float32Array(length);
				for (let i = 0; i < length; i++) {
					const roll = random();
					if (roll < 0.3) values[i] = pick(random, special);
					else if (roll < 0.4) values[i] = Math.round(first + random() * span);
					else values[i] = first - 0.1 * span + random() * 1.2 * span;
				}
				const got = statsCopied(values, histogram);
				expectStatsToMatch(got, referenceStripStats(values, first, last, bins));
			});
		}
	}

	it("counts values equal to last in the last bin and beyond the range outside it", () => {
		const values = new Float32Array([0.75, -0.5, 1, Number.NaN, -0.25]);
		const got = statsCopied(values, {
			first: -0.25,
			last: 0.75,
			bins: 4,
		});
		expect(got.histogram).toEqual({ counts: [1, 0, 0, 1], below: 1, above: 1 });
		expect(got.nodata_count).toBe(1);
	});

	it("reports null extremes and zero sums when every value is nodata", () => {
		const values = new Float32Array([Number.NaN, Number.NaN, Number.NaN]);
		const got = statsCopied(values, { first: 0, last: 1, bins: 2 });
		expect(got).toEqual({
			count: 0,
			nodata_count: 3,
			min: null,
			max: null,
			sum: 0,
			m2: 0,
			sketch: new Uint32Array(0),
			histogram: { counts: [0, 0], below: 0, above: 0 },
		});
	});

	it("are the same fused with evaluation as read from the output after it, sketch included", () => {
		const random = seededRandom(99);
		const a = Uint16Array.from({ length: 10_007 }, () => Math.floor(random() * 10_000));
		const b = Uint16Array.from({ length: 10_007 }, () => Math.floor(random() * 10_000));
		for (const expression of ["(a - b) / (a + b)", "2.5 * (a - b) / (a + 6 * b - 7.5 * a + 1)"]) {
			const formula = compileFormula({ expression, inputs: { a: {}, b: {} } });
			const arena = kernels.arena({ pixels: a.length, inputs: [{ type: "uint16" }, { type: "uint16" }] });
			arena.inputs[0]?.set(a);
			arena.inputs[1]?.set(b);
			const scaling = [0, 1].map(() => ({ nodata: 0, scale: 1, offset: 0 }));
			const histogram = { first: -1, last: 1, bins: 16 };
			const fused = arena.evaluateWithStats(formula.program, scaling, histogram);
			const { sum, m2, ...rest } = arena.outputStats(histogram);
			// Sums are added in blocks of another size, so only their last bits may differ.
			expect({ ...fused, sum: 0, m2: 0 }).toEqual({ ...rest, sum: 0, m2: 0 });
			expectRelativelyClose(sum, fused.sum);
			expectRelativelyClose(m2, fused.m2);
			expect(fused.count).toBeGreaterThan(0);
			// The sketch counts every valid value once: pairs of (key, count), keys ascending.
			const counted = fused.sketch.filter((_, i) => i % 2 === 1).reduce((sum, count) => sum + count, 0);
			expect(counted).toBe(fused.count);
		}
	});

	it("rejects histogram specs that have no bins", () => {
		const values = new Float32Array([1, 2, 3]);
		expect(() => statsCopied(values, { first: 1, last: 1, bins: 4 })).toThrow(RangeError);
		expect(() => statsCopied(values, { first: 0, last: 1, bins: 0 })).toThrow(RangeError);
		expect(() => statsCopied(values, { first: 0, last: 1, bins: 2.5 })).toThrow(RangeError);
	});
});

describe("arenas", () => {
	const SENTINEL = 0x5a5a;

	it("hold nothing of the arena before them, whether the memory grows or not", () => {
		const layout = { pixels: 4099, inputs: [{ type: "uint16" as const }, { type: "float32" as const }] };
		const earlier = kernels.arena(layout);
		for (const input of earlier.inputs) input.fill(SENTINEL);
		earlier.output.fill(SENTINEL);
		for (const pixels of [1000, layout.pixels, 1_000_000]) {
			const arena = kernels.arena({ ...layout, pixels });
			const views = [...arena.inputs, arena.output];
			for (const view of views) {
				const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
				expect(bytes.every((byte) => byte === ARENA_FILL_BYTE)).toBe(true);
			}
			// The float input's unwritten samples are NaN, which the evaluator reads as nodata.
			expect(arena.inputs[1]?.every((value) => Number.isNaN(value))).toBe(true);
			for (const view of views) view.fill(SENTINEL);
		}
	});
});
